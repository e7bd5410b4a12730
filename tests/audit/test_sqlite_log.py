"""What only the SQLite backend has: the file, WAL, its URL forms, and raw sqlite3 / sqlite-utils attacks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from auditsvc.audit import SqliteAuditLog
from auditsvc.audit import sqlite as audit_sqlite
from auditsvc.errors import AuditsvcError

from .conftest import draft


@pytest.fixture
def log(db_path: Path):
    """These tests are about the SQLite file itself: one backend only."""
    with SqliteAuditLog.open(f"sqlite:///{db_path}") as opened:
        yield opened


def test_open_creates_parent_dirs_wal_and_schema(db_path: Path, log: SqliteAuditLog) -> None:
    assert db_path.exists() and log.path == db_path
    assert log.key_path == Path(f"{db_path}.key")
    db = sqlite_utils.Database(db_path)
    assert db.journal_mode == "wal"
    assert {"meta", "events", "contents", "checkpoints"} <= set(db.table_names())
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    assert {"seq", "type", "natural_key", "repo", "ref", "commit", "recorded_at", "body", "leaf_hash"} == set(
        db["events"].columns_dict
    )
    indexed = {tuple(i.columns) for i in db["events"].indexes}
    assert {("commit",), ("repo", "ref"), ("type",), ("natural_key",)} <= indexed
    assert log._db.execute("PRAGMA busy_timeout").fetchone() == (10_000,)
    db.close()


def test_open_twice_and_relative_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with audit_sqlite.open("sqlite:///rel/dir/a.db") as log:
        log.append([draft(1)])
    with audit_sqlite.open("sqlite:///rel/dir/a.db") as log:
        assert log.path == Path("rel/dir/a.db") and log.size() == 1
    assert (tmp_path / "rel" / "dir" / "a.db").exists()


@pytest.mark.parametrize("url", ["postgresql://db/audit", "sqlite://", "sqlite:///", "sqlite:///:memory:", "a.db"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(AuditsvcError, match="audit log URL"):
        SqliteAuditLog.open(url)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET body = '{}' WHERE seq = 1",
        "UPDATE events SET recorded_at = recorded_at",
        "DELETE FROM events WHERE seq = 1",
        "DELETE FROM events",
        "INSERT OR REPLACE INTO events SELECT * FROM events WHERE seq = 1",
        "REPLACE INTO events (seq, type, natural_key, recorded_at, body, leaf_hash) VALUES (1, 'x', 'y', 't', '{}', 'h')",
        "UPDATE contents SET body = '{}'",
        "DELETE FROM contents",
        "UPDATE checkpoints SET root = 'x'",
        "DELETE FROM checkpoints",
    ],
)
def test_raw_sqlite3_cannot_update_or_delete(db_path: Path, log: SqliteAuditLog, statement: str) -> None:
    log.append([draft(1), draft(2)])
    log.put_content({"a": 1})
    log.checkpoint("origin")
    before = log.verify()
    conn = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.DatabaseError, match="audit log is append-only"):
        conn.execute(statement)
    conn.rollback()
    conn.close()
    assert before.ok and log.verify().ok
    assert log.size() == 2


def test_replace_into_idempotent_tables_changes_nothing(db_path: Path, log: SqliteAuditLog) -> None:
    digest = log.put_content({"a": 1})
    log.append([draft(1)])
    head = log.checkpoint("origin")
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT OR REPLACE INTO contents (digest, body) VALUES (?, '{\"a\":2}')", [digest])
        conn.execute("INSERT OR REPLACE INTO checkpoints VALUES (1, 'x', 'x', 'x', 'x')")
    assert log.get_content(digest) == {"a": 1}
    assert log.latest_checkpoint() == head
    assert log.verify().ok


def test_sqlite_utils_api_cannot_update_or_delete(db_path: Path, log: SqliteAuditLog) -> None:
    log.append([draft(1)])
    db = sqlite_utils.Database(db_path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db["events"].update(1, {"body": "{}"})
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db["events"].delete(1)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db["events"].upsert({"seq": 1, "body": "{}"}, pk="seq")
    db.close()
    assert log.verify().ok


def test_key_path_can_be_given(tmp_path: Path) -> None:
    key_path = tmp_path / "secrets" / "audit.key"
    with SqliteAuditLog.open(f"sqlite:///{tmp_path}/a.db", key_path=key_path) as log:
        log.append([draft(1)])
        log.checkpoint("o")
    assert key_path.exists() and not (tmp_path / "a.db.key").exists()
