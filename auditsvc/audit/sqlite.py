"""The embedded audit log backend: one SQLite file (WAL) through the standard sqlite3 module.

    log = SqliteAuditLog.open("sqlite:///var/audit.db")       # key: var/audit.db.key
    seqs = log.append([EventDraft("push", "push:r1:refs/heads/main", "infra", "refs/heads/main", sha, {...})])
    head = log.checkpoint("auditsvc.example.com/infra")
    proof = log.prove(seqs[0])                                  # against the latest checkpoint
    verify_proof(proof.to_json(), head.to_dict(), log.public_key())   # offline
    print(log.verify())

URLs follow the SQLAlchemy convention: sqlite:///relative/path.db, sqlite:////absolute/path.db.
Tables are append-only (triggers abort UPDATE and DELETE); seqs are gapless from 1 and
assigned under BEGIN IMMEDIATE, so several processes may append at once. Everything else is
shared with the PostgreSQL backend in store.py.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time as _time
from collections.abc import Callable, Iterator
from pathlib import Path

from auditsvc.audit.canonical import utc_now
from auditsvc.audit.store import APPEND_ONLY, AuditLog, NoAuditLog, table_statements
from auditsvc.errors import AuditError

BUSY_TIMEOUT_MS = 10_000

_SCHEMA = table_statements("INTEGER")  # INTEGER PRIMARY KEY: seq is the rowid
_TRIGGERS = {f"{t}_no_{op}": t for t in ("events", "contents", "checkpoints") for op in ("update", "delete", "replace")}
for _table in ("events", "contents", "checkpoints"):
    for _op in ("UPDATE", "DELETE"):
        _SCHEMA.append(
            f"CREATE TRIGGER {_table}_no_{_op.lower()} BEFORE {_op} ON {_table} "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
# INSERT OR REPLACE deletes the old row without firing DELETE triggers (unless recursive_triggers
# is on), so refuse inserts that collide: an error for events, a silent no-op for the
# content-addressed and idempotent tables.
_SCHEMA += [
    "CREATE TRIGGER events_no_replace BEFORE INSERT ON events "
    "WHEN EXISTS (SELECT 1 FROM events WHERE seq = NEW.seq OR natural_key = NEW.natural_key) "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
    "CREATE TRIGGER contents_no_replace BEFORE INSERT ON contents "
    "WHEN EXISTS (SELECT 1 FROM contents WHERE digest = NEW.digest) BEGIN SELECT RAISE(IGNORE); END",
    "CREATE TRIGGER checkpoints_no_replace BEFORE INSERT ON checkpoints "
    "WHEN EXISTS (SELECT 1 FROM checkpoints WHERE size = NEW.size) BEGIN SELECT RAISE(IGNORE); END",
]


def path_from_url(url: str | os.PathLike[str]) -> Path:
    """The database file named by sqlite:///relative/path.db or sqlite:////absolute/path.db."""
    if isinstance(url, os.PathLike):
        return Path(url)
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise AuditError(
            f"audit log URL {url!r} is not supported here: use sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    rest = url[len(prefix) :]
    if rest == ":memory:" or "?" in rest:
        raise AuditError(f"audit log URL {url!r}: the audit log must be a file, without query parameters")
    return Path(rest)


class SqliteAuditLog(AuditLog):
    """An append-only, tamper-evident event log in one SQLite file. Use `SqliteAuditLog.open`."""

    MIGRATIONS = (tuple(_SCHEMA),)
    _errors = sqlite3.Error

    def __init__(self, db: sqlite3.Connection, path: Path, key_path: Path, clock: Callable[[], str]) -> None:
        super().__init__(db, str(path), key_path, clock)
        self.path = path
        self.key_path: Path = key_path

    @classmethod
    def open(
        cls,
        url: str | os.PathLike[str],
        key_path: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        clock: Callable[[], str] | None = None,
    ) -> SqliteAuditLog:
        """Open (creating file, parent directories and schema if needed) the log at url.

        The signing key defaults to `<db file>.key` next to the database; it is created, mode
        0600, the first time a checkpoint is signed. With create=False a missing log is an
        AuditError. clock returns RFC 3339 UTC timestamps (for tests; defaults to the system
        clock).
        """
        path = path_from_url(url)
        if not create and not path.exists():
            raise NoAuditLog(f"no audit log at {path}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise AuditError(f"cannot create directory for audit log {path}: {err.strerror}") from None
        try:
            # Autocommit mode: every transaction is an explicit BEGIN IMMEDIATE ... COMMIT.
            db = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as err:
            raise AuditError(f"cannot open audit log {path}: {err}") from None
        log = cls(db, path, Path(key_path) if key_path is not None else Path(f"{path}.key"), clock or utc_now)
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            log._enable_wal()
            log._migrate(create)
        except sqlite3.DatabaseError as err:
            db.close()
            raise AuditError(f"cannot open audit log {path}: {err}") from None
        except BaseException:
            db.close()
            raise
        return log

    def _enable_wal(self) -> None:
        deadline = _time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = wal")
                return
            except sqlite3.OperationalError as err:  # another process is creating the file
                if "locked" not in str(err) or _time.monotonic() > deadline:
                    raise
                _time.sleep(0.01)

    def _schema_version_stored(self) -> int | None:
        if self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
            return None
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return None if row is None else int(row[0])

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction holding the database write lock from its start."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            raise AuditError(f"audit log {self.path} is busy: {err}") from None
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _table_names(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _broken_guards(self) -> list[str]:
        present = dict(self._db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'").fetchall())
        return sorted(name for name, table in _TRIGGERS.items() if present.get(name) != table)


def open(  # noqa: A001 - the module's entry point, as in `sqlite.open(url)`
    url: str | os.PathLike[str],
    key_path: str | os.PathLike[str] | None = None,
    *,
    create: bool = True,
    clock: Callable[[], str] | None = None,
) -> SqliteAuditLog:
    """Open the SQLite audit log at url; see SqliteAuditLog.open."""
    return SqliteAuditLog.open(url, key_path, create=create, clock=clock)
