"""Git plumbing: which manifests a commit range touches, and their bytes at a revision.

git's own plumbing (diff-tree, cat-file --batch) is used rather than dulwich's
walker: FIELD-NOTES measured it 10x faster on long histories.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from auditsvc.errors import GitError
from auditsvc.manifests import MANIFEST_SUFFIXES, Source, is_excluded


def git(repo: str, *args: str, input: bytes | None = None) -> bytes:
    """Run git in `repo`; a failure raises GitError with git's own message."""
    proc = subprocess.run(["git", "-C", repo, *args], input=input, capture_output=True)
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {' '.join(args[:2])} failed in {repo}: {message[-1] if message else 'no output'}")
    return proc.stdout


def resolve(repo: str, rev: str) -> str:
    """Commit id of a revision, or a GitError naming the unknown revision."""
    try:
        return git(repo, "rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}").decode().strip()
    except GitError:
        raise GitError(f"unknown revision {rev!r} in {repo}: check the name, or fetch it first") from None


def read_blobs(repo: str, specs: Sequence[str]) -> list[bytes | None]:
    """Contents of `<rev>:<path>` or blob ids, through one `git cat-file --batch`; None if missing."""
    if not specs:
        return []
    out = git(repo, "cat-file", "--batch", input="".join(f"{s}\n" for s in specs).encode())
    blobs: list[bytes | None] = []
    pos = 0
    for _ in specs:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if header[-1] == b"missing" or len(header) < 3:
            blobs.append(None)
            continue
        size = int(header[2])
        blobs.append(out[pos : pos + size])
        pos += size + 1
    return blobs


def changed_manifests(repo: str, base: str, head: str, exclude: Sequence[str] = ()) -> list[Source]:
    """Manifests added or modified between base and head, as they are at head, with their blob ids."""
    base_id, head_id = resolve(repo, base), resolve(repo, head)
    raw = git(repo, "diff-tree", "-r", "-z", "--no-commit-id", "--raw", "-M", base_id, head_id)
    fields = raw.decode("utf-8", "surrogateescape").split("\0")
    changed: list[tuple[str, str]] = []  # (path, blob id)
    i = 0
    while i < len(fields) - 1:
        # ":100644 100644 <old blob> <new blob> <status>", then one path (two for renames and copies)
        _, new_mode, _, new_blob, status = fields[i].split(" ")
        path = fields[i + 2] if status[0] in "RC" else fields[i + 1]
        i += 3 if status[0] in "RC" else 2
        if status[0] != "D" and new_mode != "160000" and path.endswith(MANIFEST_SUFFIXES) and not is_excluded(path, exclude):
            changed.append((path, new_blob))
    blobs = read_blobs(repo, [blob for _, blob in changed])
    return [Source(path, data, blob) for (path, blob), data in zip(changed, blobs) if data is not None]


def crd_sources(repo: str, rev: str) -> list[Source]:
    """Files at `rev` that mention CustomResourceDefinition: candidates for CRD schemas."""
    rev_id = resolve(repo, rev)
    proc = subprocess.run(
        ["git", "-C", repo, "grep", "-l", "-z", "-F", "CustomResourceDefinition", rev_id, "--",
         *(f"*{s}" for s in MANIFEST_SUFFIXES)],
        capture_output=True,
    )
    if proc.returncode not in (0, 1):  # 1: nothing found
        raise GitError(f"git grep failed in {repo}: {proc.stderr.decode(errors='replace').strip()}")
    specs = [name for name in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if name]
    blobs = read_blobs(repo, specs)
    return [Source(spec.split(":", 1)[1], b) for spec, b in zip(specs, blobs) if b is not None]
