"""An attacker with write access to the database edits it by hand; verify() names the damage (both backends)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import LogStore

from auditsvc.audit import AuditLog, SqliteAuditLog
from auditsvc.audit.log import leaf_hash_of, leaf_json
from auditsvc.errors import AuditError

from .conftest import draft


@pytest.fixture
def signed_log(log: AuditLog) -> AuditLog:
    """10 events with checkpoints at sizes 4, 8 and 10."""
    log.append([draft(i) for i in range(4)])
    log.checkpoint("origin")
    log.append([draft(i) for i in range(4, 8)])
    log.checkpoint("origin")
    log.append([draft(i) for i in range(8, 10)])
    log.checkpoint("origin")
    log.put_content({"kind": "ConfigMap"})
    assert log.verify().ok
    return log


def attack(store: LogStore, *statements: str, params: list | None = None, restore_triggers: bool = True) -> None:
    """What an attacker who owns the database does: drop (or disable) the append-only triggers, edit, restore."""
    conn = store.connect()
    if store.kind == "postgresql":
        tables = ("events", "contents", "checkpoints")
        for table in tables:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for statement in statements:
            conn.execute(statement.replace("?", "%s"), params or None)
        if restore_triggers:
            for table in tables:
                conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        conn.close()
        return
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    for statement in statements:
        conn.execute(statement, params or [])
    if restore_triggers:
        for _, sql in triggers:
            conn.execute(sql)
    conn.close()


def messages(log: AuditLog) -> list[str]:
    return [str(p) for p in log.verify().problems]


def test_clean_log_verifies(signed_log: AuditLog) -> None:
    report = signed_log.verify()
    assert report.ok and report.events == 10 and report.checkpoints == 3 and report.first is None
    assert str(report) == "audit log verified: 10 events, 3 signed checkpoints"


def test_edited_body_is_named(log_store: LogStore, signed_log: AuditLog) -> None:
    attack(log_store, """UPDATE events SET body = '{"i":2,"path":"clusters/prod/innocent.yaml"}' WHERE seq = 3""")
    report = signed_log.verify()
    assert not report.ok and report.first_bad_seq == 3
    assert str(report.first) == "seq 3: leaf hash mismatch"
    assert "checkpoint at size 4: root mismatch" in str(report.problems[1])
    assert str(report).startswith("audit log FAILED verification: seq 3: leaf hash mismatch")


@pytest.mark.parametrize("column", ["type", "natural_key", "repo", "ref", "commit", "recorded_at"])
def test_any_edited_column_is_named(log_store: LogStore, signed_log: AuditLog, column: str) -> None:
    attack(log_store, f'UPDATE events SET "{column}" = \'x\' WHERE seq = 6')
    assert messages(signed_log)[0] == "seq 6: leaf hash mismatch"


def test_edit_with_recomputed_leaf_hash_is_caught_by_the_signed_checkpoint(log_store: LogStore, signed_log: AuditLog) -> None:
    # The attacker knows the leaf format and rewrites leaf_hash too: only the signed roots can tell.
    (row,) = log_store.execute('SELECT seq, type, natural_key, repo, ref, "commit", recorded_at FROM events WHERE seq = 6')
    body = '{"i":5,"path":"clusters/prod/innocent.yaml"}'
    forged = leaf_hash_of(leaf_json(*row, body)).hex()
    attack(log_store, "UPDATE events SET body = ?, leaf_hash = ? WHERE seq = 6", params=[body, forged])
    report = signed_log.verify()
    assert [str(p) for p in report.problems] == [
        "checkpoint at size 8: root mismatch (an event in seq 5..8 differs from what was signed)",
        "checkpoint at size 10: root mismatch (an event in seq 5..10 differs from what was signed)",
    ]
    assert report.problems[0].checkpoint == 8


def test_deleted_row_is_named(log_store: LogStore, signed_log: AuditLog) -> None:
    attack(log_store, "DELETE FROM events WHERE seq = 5")
    report = signed_log.verify()
    assert str(report.first) == "seq 5: missing seq 5" and report.first_bad_seq == 5
    assert any("checkpoint at size 8: root mismatch" in str(p) for p in report.problems)


def test_deleted_rows_are_named_as_a_range(log_store: LogStore, signed_log: AuditLog) -> None:
    attack(log_store, "DELETE FROM events WHERE seq BETWEEN 2 AND 4")
    assert messages(signed_log)[0] == "seq 2: missing seqs 2..4"


@pytest.mark.parametrize("log_store", ["sqlite"], indirect=True)  # PostgreSQL: test_postgres_log's replaced guard
def test_delete_through_pragma_writable_schema(log_store: LogStore, signed_log: AuditLog) -> None:
    # Disable the triggers by rewriting the schema instead of dropping them.
    db_path = log_store.db_path
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE TRIGGER ' || name || ' AFTER INSERT ON meta BEGIN SELECT 1; END', tbl_name = 'meta' WHERE type = 'trigger'")
    conn.commit()
    conn.close()
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM events WHERE seq = 7")
    conn.commit()
    conn.close()
    problems = messages(signed_log)
    assert problems[0] == "seq 7: missing seq 7"
    assert problems[-1].startswith("append-only trigger(s) missing or altered: ")


def test_truncated_log_is_caught_by_checkpoints(log_store: LogStore, signed_log: AuditLog) -> None:
    attack(log_store, "DELETE FROM events WHERE seq > 8")
    assert messages(signed_log) == ["checkpoint at size 10: the log has only 8 events"]


def test_swapped_rows_are_named(log_store: LogStore, signed_log: AuditLog) -> None:
    columns = ["type", "natural_key", "repo", "ref", '"commit"', "recorded_at", "body", "leaf_hash"]
    (two,) = log_store.execute(f"SELECT {', '.join(columns)} FROM events WHERE seq = 2")
    (three,) = log_store.execute(f"SELECT {', '.join(columns)} FROM events WHERE seq = 3")
    attack(log_store, "DELETE FROM events WHERE seq IN (2, 3)")  # free the UNIQUE natural keys first
    log_store.execute(f"INSERT INTO events (seq, {', '.join(columns)}) VALUES (2, ?, ?, ?, ?, ?, ?, ?, ?)", three)
    log_store.execute(f"INSERT INTO events (seq, {', '.join(columns)}) VALUES (3, ?, ?, ?, ?, ?, ?, ?, ?)", two)
    report = signed_log.verify()
    assert [str(p) for p in report.problems[:2]] == ["seq 2: leaf hash mismatch", "seq 3: leaf hash mismatch"]
    assert report.first_bad_seq == 2


def test_swapped_bodies_are_named(log_store: LogStore, signed_log: AuditLog) -> None:
    attack(
        log_store,
        "UPDATE events SET body = CASE seq WHEN 8 THEN (SELECT body FROM events WHERE seq = 9) "
        "ELSE (SELECT body FROM events WHERE seq = 8) END WHERE seq IN (8, 9)",
    )
    assert messages(signed_log)[0] == "seq 8: leaf hash mismatch"


def test_reformatted_body_is_named(log_store: LogStore, signed_log: AuditLog) -> None:
    ((body,),) = log_store.execute("SELECT body FROM events WHERE seq = 2")
    attack(log_store, "UPDATE events SET body = ? WHERE seq = 2", params=[json.dumps(json.loads(body), indent=2)])
    assert messages(signed_log) == ["seq 2: body is not canonical JSON"]


def test_body_that_is_not_json_is_named_without_raising(log_store: LogStore, signed_log: AuditLog) -> None:
    attack(log_store, "UPDATE events SET body = '{not json' WHERE seq = 1", "UPDATE events SET leaf_hash = 'zz' WHERE seq = 2")
    problems = messages(signed_log)
    assert problems[:2] == ["seq 1: body is not valid JSON", "seq 2: leaf hash mismatch"]


def test_forged_checkpoint_signature_is_named(log_store: LogStore, signed_log: AuditLog) -> None:
    attack(log_store, "UPDATE checkpoints SET signature = (SELECT signature FROM checkpoints WHERE size = 4) WHERE size = 8")
    assert messages(signed_log) == ["checkpoint at size 8: bad signature"]


def test_rewritten_checkpoint_row_is_named(log_store: LogStore, signed_log: AuditLog) -> None:
    attack(log_store, "UPDATE checkpoints SET root = (SELECT root FROM checkpoints WHERE size = 4) WHERE size = 8")
    assert messages(signed_log) == ["checkpoint at size 8: row does not match its signed body"]


def test_checkpoint_rewritten_with_attackers_key_fails_with_the_pinned_key(log_store: LogStore, signed_log: AuditLog) -> None:
    pinned = signed_log.public_key()
    signed_log.key_path.unlink()  # the attacker replaces the key next to the db and re-signs
    attack(log_store, "DELETE FROM checkpoints")
    signed_log.checkpoint("origin")
    assert signed_log.verify().ok  # self-consistent with the new key ...
    assert messages_with(signed_log, pinned) == ["checkpoint at size 10: bad signature"]  # ... not with the pinned one


def messages_with(log: AuditLog, key: object) -> list[str]:
    return [str(p) for p in log.verify(public_key=key).problems]  # type: ignore[arg-type]


def test_missing_or_unsafe_key_is_reported_not_raised(signed_log: AuditLog) -> None:
    signed_log.key_path.chmod(0o644)
    assert "checkpoint signatures not checked" in messages(signed_log)[0]
    signed_log.key_path.unlink()
    assert messages(signed_log) == [f"checkpoint signatures not checked: no key file {signed_log.key_path}"]


def test_tampered_content_is_named(log_store: LogStore, signed_log: AuditLog) -> None:
    attack(log_store, """UPDATE contents SET body = '{"kind":"Secret"}'""")
    (problem,) = messages(signed_log)
    assert problem.startswith("content ") and problem.endswith(": digest mismatch")


def test_dropped_table_is_reported_not_raised(log_store: LogStore, signed_log: AuditLog) -> None:
    attack(log_store, "DROP TABLE events", restore_triggers=False)
    assert messages(signed_log)[0] == "table(s) events missing"


def test_triggers_left_dropped_are_reported(log_store: LogStore, signed_log: AuditLog) -> None:
    attack(log_store, restore_triggers=False)
    (problem,) = messages(signed_log)
    assert problem.startswith("append-only trigger(s) missing or altered: checkpoints_no_delete, ")


@pytest.mark.parametrize("log_store", ["sqlite"], indirect=True)
def test_garbage_file_is_reported_not_raised(log_store: LogStore, signed_log: AuditLog) -> None:
    db_path = log_store.db_path
    signed_log.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    db_path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    with pytest.raises(AuditError, match="cannot open audit log"):
        SqliteAuditLog.open(f"sqlite:///{db_path}")
    reopened = SqliteAuditLog(sqlite3.connect(db_path, isolation_level=None), db_path, signed_log.key_path, lambda: "")
    report = reopened.verify()
    assert not report.ok and report.first is not None and "cannot read the audit log" in report.first.message


def test_wholesale_corruption_is_reported_in_bounded_form(log_store: LogStore, log: AuditLog) -> None:
    log.append([draft(i) for i in range(150)])
    attack(log_store, "UPDATE events SET repo = 'elsewhere'")
    report = log.verify()
    assert report.truncated and len(report.problems) == 100 and report.first_bad_seq == 1
    assert report.to_dict()["problems"][0] == {"message": "leaf hash mismatch", "seq": 1, "checkpoint": None}
    assert str(report) == "audit log FAILED verification: seq 1: leaf hash mismatch (and 99+ more)"
