"""Shared helpers: the real CLI in a real process, real git repositories."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from auditsvc.audit import AuditLog, open_log
from auditsvc.install import install
from auditsvc.spool import LOG_NAME, SPOOL_DIR, pending

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


POSTGRES = os.environ.get("AUDITSVC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
"""The PostgreSQL server the tests use (trust auth). Unreachable means failing tests, never skipped ones."""


class PgSchema:
    """A fresh schema in the test database, so parallel tests never share tables; dropped afterwards."""

    def __init__(self) -> None:
        self.name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')

    def url(self, key_path: Path | None = None, user: str | None = None) -> str:
        """The audit log URL of this schema (search_path set through libpq's options)."""
        base = POSTGRES if user is None else POSTGRES.replace("://postgres@", f"://{user}@", 1)
        url = f"{base}?options=-csearch_path%3D{self.name}"
        return url if key_path is None else f"{url}&signing_key={key_path}"

    def connect(self) -> psycopg.Connection[Any]:
        """A connection as the owner (the superuser), with this schema first in its search_path."""
        conn = psycopg.connect(POSTGRES, autocommit=True)
        conn.execute(f'SET search_path TO "{self.name}"')
        return conn

    def drop(self) -> None:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{self.name}" CASCADE')


@pytest.fixture
def pg_schema() -> Iterator[PgSchema]:
    schema = PgSchema()
    yield schema
    schema.drop()


@pytest.fixture
def pg_role() -> Iterator[str]:
    """A login role of its own with no rights yet (trust auth lets it connect); dropped afterwards."""
    role = f"auditsvc_role_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    yield role
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'DROP OWNED BY "{role}"')
        admin.execute(f'DROP ROLE "{role}"')


class LogStore:
    """Where a test's audit log lives: a SQLite file, or a PostgreSQL schema with a key file.

    `execute` runs SQL straight on the database with the owner's rights (what an attacker with
    database access does), `?` placeholders for both backends.
    """

    def __init__(self, kind: str, tmp_path: Path, schema: PgSchema | None) -> None:
        self.kind = kind
        self.schema = schema
        self.key_path = tmp_path / "audit" / "log.db.key"
        self.db_path = tmp_path / "audit" / "log.db"
        self.url = f"sqlite:///{self.db_path}" if schema is None else schema.url(self.key_path)

    def connect(self) -> Any:
        if self.schema is not None:
            return self.schema.connect()
        return sqlite3.connect(self.db_path, isolation_level=None)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            if self.schema is not None:
                statement = statement.replace("?", "%s")
            cursor = conn.execute(statement, params or None) if self.schema is not None else conn.execute(statement, params)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
        finally:
            conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def log_store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LogStore]:
    """The audit log's home, once per backend: tests taking it run against SQLite and PostgreSQL.

    XDG_CACHE_HOME points into tmp_path: queries on a PostgreSQL log keep a replica there.
    """
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if request.param == "sqlite":
        yield LogStore("sqlite", tmp_path, None)
        return
    schema = PgSchema()
    try:
        yield LogStore("postgresql", tmp_path, schema)
    finally:
        schema.drop()


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


class Server:
    """A bare repository with the hook installed, a clone to commit in, the log's URL."""

    def __init__(self, root: Path, config: dict | None = None, socket: Path | None = None) -> None:
        self.git_dir = root / "server.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.git_dir)], check=True)
        self.db = root / "var" / "audit.db"
        self.url = (config or {}).get("db", f"sqlite:///{self.db}")
        self.config = root / "auditsvc.yaml"
        settings = {
            "db": self.url,
            "policies": [str(DATA / "policies")],
            "protected_refs": ["refs/heads/main"],
            "overrides": {"allowed": ["alice"]},
            "time_budget_seconds": 60,
            **(config or {}),
        }
        self.config.write_text(json.dumps(settings))
        install(str(self.git_dir), str(self.config), socket_path=str(socket) if socket else None)
        self.work = root / "work"
        subprocess.run(["git", "clone", "-q", str(self.git_dir), str(self.work)], check=True, env=clean_env(), capture_output=True)

    def commit(self, files: dict[str, str | None], message: str, author: str | None = None, date: str | None = None) -> str:
        for name, text in files.items():
            if text is None:
                git(self.work, "rm", "-q", name)
            else:
                write(self.work / name, text)
                git(self.work, "add", name)
        extra = [f"--author={author}"] if author else []
        env = clean_env(**({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {}))
        subprocess.run(["git", "-C", str(self.work), "commit", "-q", "-m", message, *extra], check=True, env=env, capture_output=True)
        return git(self.work, "rev-parse", "HEAD")

    def move(self, old: str, new: str, message: str) -> str:
        git(self.work, "mv", old, new)
        git(self.work, "commit", "-q", "-m", message)
        return git(self.work, "rev-parse", "HEAD")

    def push(self, *args: str, user: str | None = None) -> subprocess.CompletedProcess:
        env = clean_env(**({"REMOTE_USER": user} if user else {}))
        proc = subprocess.run(["git", "-C", str(self.work), "push", *args], capture_output=True, text=True, env=env, timeout=120)
        self.recorded()
        return proc

    def ok(self, *args: str, user: str | None = None) -> None:
        proc = self.push(*args, user=user)
        assert proc.returncode == 0, proc.stderr

    def recorded(self, timeout: float = 120) -> None:
        """Wait until the background recorder has recorded every push that landed."""
        deadline = time.monotonic() + timeout
        while pending(str(self.git_dir)):
            assert time.monotonic() < deadline, (self.git_dir / SPOOL_DIR / LOG_NAME).read_text()
            time.sleep(0.05)

    def log(self) -> AuditLog:
        self.recorded()
        return open_log(self.url)

    def events(self, type_: str | None = None) -> list[dict]:
        """Every event as a flat dict (columns and body), optionally of one type."""
        with self.log() as log:
            found = [dict(type=e.type, ref=e.ref, commit=e.commit, **e.body) for e in log.events()]
        return [e for e in found if type_ is None or e["type"] == type_]

    def verify(self) -> str:
        with self.log() as log:
            return str(log.verify())
