"""Local mirrors of hosted repositories, for the webhook receiver.

A mirror's refs are what the service has already recorded, so a delivery is judged exactly as
a pre-receive hook judges a push: the remote's objects are fetched into a throw-away
*incoming* repository that borrows the mirror's objects (git alternates), and the pipeline
runs on the mirror with the incoming objects visible through GIT_ALTERNATE_OBJECT_DIRECTORIES
(git's own quarantine mechanism). Landing copies the objects of the update and moves the one
ref, as receive-pack does after pre-receive accepts.

One lock file per mirror serialises deliveries of one repository across processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from auditsvc.changes import git, is_fast_forward
from auditsvc.model import RefUpdate

FETCH_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def mirror_path(root: Path, name: str) -> Path:
    """The mirror directory of repository `name` (e.g. acme/gitops) under root."""
    return root / "mirrors" / (_SAFE.sub("_", name).strip("._") + ".git")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ensure(path: Path) -> None:
    if not (path / "HEAD").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True, capture_output=True)


@contextlib.contextmanager
def incoming(root: Path, name: str, url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Lock the mirror, fetch the remote into a quarantine; yields (mirror dir, git environment).

    Children of git run with the environment see the fetched objects; the mirror's refs are
    unchanged until `land`.
    """
    path = mirror_path(root, name)
    with _locked(path.with_suffix(".lock")):
        _ensure(path)
        with tempfile.TemporaryDirectory(prefix="incoming-", dir=path) as quarantine:
            subprocess.run(["git", "init", "-q", "--bare", quarantine], check=True, capture_output=True)
            (Path(quarantine) / "objects" / "info" / "alternates").write_text(str(path / "objects") + "\n")
            git(quarantine, "config", "uploadpack.allowAnySHA1InWant", "true")
            git(quarantine, "fetch", "-q", "--no-write-fetch-head", "--", url, *FETCH_REFSPECS)
            env = {"GIT_ALTERNATE_OBJECT_DIRECTORIES": os.path.join(quarantine, "objects")}
            yield str(path), env


def land(mirror: str, env: dict[str, str], update: RefUpdate) -> None:
    """Move the update's objects into the mirror and its ref to the new commit (never backwards)."""
    quarantine = os.path.dirname(env["GIT_ALTERNATE_OBJECT_DIRECTORIES"])
    if update.is_delete:
        subprocess.run(["git", "-C", mirror, "update-ref", "-d", update.ref], capture_output=True)
        return
    git(mirror, "fetch", "-q", "--no-write-fetch-head", quarantine, update.new)
    current = subprocess.run(
        ["git", "-C", mirror, "rev-parse", "--verify", "-q", update.ref], capture_output=True, text=True
    ).stdout.strip()
    # Deliveries can arrive out of order: a later push already landed wins.
    if current and current != update.old and is_fast_forward(mirror, update.new, current):
        return
    git(mirror, "update-ref", update.ref, update.new)


def contains(root: Path, name: str, commit: str) -> bool:
    """True when the mirror of `name` exists and has `commit`."""
    path = mirror_path(root, name)
    if not (path / "HEAD").exists():
        return False
    proc = subprocess.run(["git", "-C", str(path), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True)
    return proc.returncode == 0
