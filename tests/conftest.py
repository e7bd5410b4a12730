"""Shared helpers: the real CLI in a real process, real git repositories."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDITSVC_", "GIT_"))}
    env.update(
        GIT_AUTHOR_NAME="Ada Author",
        GIT_AUTHOR_EMAIL="ada@example.com",
        GIT_COMMITTER_NAME="Carl Committer",
        GIT_COMMITTER_EMAIL="carl@example.com",
        GIT_CONFIG_NOSYSTEM="1",
        HOME=os.environ.get("HOME", "/root"),
    )
    env.update(extra)
    return env


@pytest.fixture
def run_cli(tmp_path: Path):
    """Run `python -m auditsvc ARGS` in tmp_path; returns the CompletedProcess (text)."""

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None):
        return subprocess.run(
            [sys.executable, "-m", "auditsvc", *map(str, args)],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            env=clean_env(**(env or {})),
            timeout=120,
        )

    return run


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def git(repo: Path, *args: str, input: str | None = None) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], input=input, capture_output=True, text=True, check=True, env=clean_env()
    ).stdout.strip()


def commit(repo: Path, files: dict[str, str | None], message: str) -> str:
    """Write (or, for None, delete) files in a work tree and commit them; returns the commit id."""
    for name, text in files.items():
        if text is None:
            git(repo, "rm", "-q", name)
        else:
            write(repo / name, text)
            git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def work_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    return repo


@pytest.fixture
def test_policies() -> Path:
    return DATA / "policies"
