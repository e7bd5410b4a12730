"""What only the PostgreSQL backend has: its URL, schema, triggers, and the INSERT/SELECT-only writer role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import POSTGRES, PgSchema

from auditsvc.audit import open_log
from auditsvc.audit.postgres import PostgresAuditLog, parse_url
from auditsvc.errors import AuditError

from .conftest import draft


@pytest.fixture
def log(pg_schema: PgSchema, tmp_path: Path) -> Iterator[PostgresAuditLog]:
    with PostgresAuditLog.open(pg_schema.url(tmp_path / "audit.key")) as opened:
        yield opened


def test_url_parameters_password_and_key() -> None:
    conninfo, key, shown = parse_url("postgresql://app:s3cret@db:5433/audit?sslmode=require&signing_key=/etc/a.key")
    assert conninfo == "postgresql://app:s3cret@db:5433/audit?sslmode=require"
    assert key == "/etc/a.key"
    assert shown == "postgresql://app:***@db:5433/audit?sslmode=require"
    assert parse_url("postgres://db/audit")[1] is None
    for bad in ("postgresql://db/a?signing_key=", "postgresql://db/a?signing_key=x&signing_key=y"):
        with pytest.raises(AuditError, match="give signing_key once"):
            parse_url(bad)


def test_schema_tables_and_triggers(log: PostgresAuditLog, pg_schema: PgSchema) -> None:
    with pg_schema.connect() as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [pg_schema.name])}
        assert tables == {"meta", "events", "contents", "checkpoints"}
        types = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = 'events'",
            [pg_schema.name],
        ).fetchall())
        assert types["seq"] == "bigint" and types["body"] == "text"  # text: the body is hashed byte for byte
        triggers = {r[0] for r in conn.execute(
            "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relnamespace = %s::regnamespace AND NOT tgisinternal", [pg_schema.name]
        )}
        assert triggers == {f"{t}_no_{op}" for t in ("events", "contents", "checkpoints") for op in ("update", "delete", "truncate")}
        assert conn.execute("SELECT value FROM meta").fetchall() == [("1",)]
    assert log.schema == pg_schema.name and log.verify().ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET body = '{}' WHERE seq = 1",
        "DELETE FROM events WHERE seq = 1",
        "TRUNCATE events",
        "INSERT INTO events SELECT * FROM events WHERE seq = 1 ON CONFLICT (seq) DO UPDATE SET body = '{}'",
        "UPDATE contents SET body = '{}'",
        "TRUNCATE contents",
        "DELETE FROM checkpoints",
        "TRUNCATE checkpoints CASCADE",
    ],
)
def test_the_owner_cannot_change_rows_while_the_triggers_stand(
    log: PostgresAuditLog, pg_schema: PgSchema, statement: str
) -> None:
    log.append([draft(1), draft(2)])
    log.put_content({"a": 1})
    log.checkpoint("origin")
    with pg_schema.connect() as conn, pytest.raises(psycopg.errors.RaiseException, match="audit log is append-only"):
        conn.execute(statement)
    assert log.size() == 2 and log.verify().ok


def test_a_writer_role_appends_and_signs_but_cannot_change_or_unguard(
    log: PostgresAuditLog, pg_schema: PgSchema, pg_role: str, tmp_path: Path
) -> None:
    log.grant_writer(pg_role)
    log.append([draft(1)])
    with open_log(pg_schema.url(tmp_path / "audit.key", user=pg_role)) as writer:
        assert writer.append([draft(2), draft(1)]) == [2, 1]
        writer.put_content({"kind": "ConfigMap"})
        assert writer.checkpoint("origin").size == 2
        assert writer.verify().ok
    with psycopg.connect(pg_schema.url(user=pg_role), autocommit=True) as conn:
        for statement in (
            "UPDATE events SET body = '{}'",
            "DELETE FROM events",
            "TRUNCATE events",
            "DELETE FROM checkpoints",
            "DROP TRIGGER events_no_update ON events",  # not the owner: triggers stay
            "ALTER TABLE events DISABLE TRIGGER ALL",
            "CREATE OR REPLACE FUNCTION auditsvc_append_only() RETURNS trigger LANGUAGE sql AS 'SELECT NULL'",
            "DROP TABLE events",
            "SET session_replication_role = replica",  # would skip ordinary triggers; superusers only
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert log.size() == 2 and log.verify().ok


def test_a_writer_role_cannot_create_the_log(pg_schema: PgSchema, pg_role: str) -> None:
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'GRANT USAGE ON SCHEMA "{pg_schema.name}" TO "{pg_role}"')
    with pytest.raises(AuditError, match="cannot create or upgrade the audit log in .*permission denied.*auditsvc init --db URL"):
        open_log(pg_schema.url(user=pg_role))


def test_without_a_signing_key_checkpoints_fail_and_verify_says_so(pg_schema: PgSchema, tmp_path: Path) -> None:
    with open_log(pg_schema.url(tmp_path / "audit.key")) as keyed:
        keyed.append([draft(1)])
        keyed.checkpoint("origin")
        public = keyed.public_key()
    with open_log(pg_schema.url()) as keyless:
        assert keyless.key_path is None
        keyless.append([draft(2)])
        with pytest.raises(AuditError, match=r"has no signing key: add \?signing_key="):
            keyless.checkpoint("origin")
        (problem,) = keyless.verify().problems
        assert str(problem).startswith("checkpoint signatures not checked: the PostgreSQL audit log")
        assert keyless.verify(public_key=public).ok  # a pinned public key needs no private key


def test_a_replaced_guard_function_or_disabled_trigger_is_named(log: PostgresAuditLog, pg_schema: PgSchema) -> None:
    log.append([draft(i) for i in range(3)])
    log.checkpoint("origin")
    with pg_schema.connect() as conn:
        conn.execute(
            "CREATE OR REPLACE FUNCTION auditsvc_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$"
        )
        conn.execute("DELETE FROM events WHERE seq = 2")  # the replaced guard lets it through
        conn.execute("ALTER TABLE contents DISABLE TRIGGER contents_no_update")
    problems = [str(p) for p in log.verify().problems]
    assert problems[0] == "seq 2: missing seq 2"
    assert problems[-1].startswith("append-only trigger(s) missing or altered: checkpoints_no_delete, ")
    assert "contents_no_update" in problems[-1]


def test_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match=r"^cannot connect to audit log postgresql://postgres@127\.0\.0\.1:9/test: ") as caught:
        open_log("postgresql://postgres@127.0.0.1:9/test")
    assert "\n" not in str(caught.value)


def test_a_writer_role_cannot_upgrade_the_schema_and_says_who_can(
    log: PostgresAuditLog, pg_schema: PgSchema, pg_role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.grant_writer(pg_role)
    monkeypatch.setattr(PostgresAuditLog, "MIGRATIONS", (*PostgresAuditLog.MIGRATIONS, ("CREATE TABLE v2_marker (x TEXT)",)))
    with pytest.raises(AuditError, match="cannot create or upgrade .*run `auditsvc init --db URL` once as the schema's owner"):
        open_log(pg_schema.url(user=pg_role))
    with open_log(pg_schema.url(tmp_path / "audit.key")) as owner:  # the owner upgrades; then the writer may open
        assert owner.verify().ok
    with open_log(pg_schema.url(user=pg_role)) as writer:
        assert writer.append([draft(1)]) == [1]


def test_a_writer_waits_for_the_append_lock_only_so_long(
    log: PostgresAuditLog, pg_schema: PgSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer holding the append lock (stuck mid-transaction): an error after lock_timeout, as SQLite's busy timeout."""
    monkeypatch.setattr("auditsvc.audit.postgres.LOCK_TIMEOUT_MS", 200)
    with open_log(pg_schema.url()) as impatient, pg_schema.connect() as holder:
        with holder.transaction():
            holder.execute("SELECT pg_advisory_xact_lock(%s)", [log._lock_key])
            with pytest.raises(AuditError, match="cannot append to audit log .*lock timeout"):
                impatient.append([draft(1)])
            assert impatient.size() == 0  # readers do not wait
        assert impatient.append([draft(1)]) == [1]
