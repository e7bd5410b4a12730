"""`auditsvc migrate`: a SQLite log copied into each backend, hash for hash, resumable, refusing bad input."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from conftest import LogStore, PgSchema

from auditsvc.audit import AuditLog, open_log, verify_proof
from auditsvc.audit.migrate import migrate, refresh_replica
from auditsvc.errors import AuditError

from .conftest import draft


@pytest.fixture
def source(tmp_path: Path) -> AuditLog:
    """A SQLite log of 30 events, 3 checkpoints and some contents, as the hook leaves it."""
    log = open_log(f"sqlite:///{tmp_path}/source/audit.db")
    for start in (0, 10, 20):
        log.append([draft(i, note="ünïcode ✓") for i in range(start, start + 10)])
        log.put_content({"kind": "ConfigMap", "data": {"n": str(start)}})
        log.checkpoint("gitops")
    return log


def rows(log: AuditLog) -> tuple[list, list, list]:
    return list(log.event_rows()), list(log.content_rows()), log.checkpoint_rows()


def test_copy_keeps_every_hash_and_signature(source: AuditLog, log_store: LogStore) -> None:
    with open_log(log_store.url) as target:
        result = migrate(source, target)
        assert (result.copied, result.already, result.checkpoints) == (30, 0, 3) and result.report.ok
        assert rows(target) == rows(source)  # seq, recorded_at, bodies byte for byte, leaf hashes, signatures
        assert target.root() == source.root() and target.checkpoints() == source.checkpoints()
        assert stat.S_IMODE(os.stat(log_store.key_path).st_mode) == 0o600
        assert target.public_key() == source.public_key()
        head = target.latest_checkpoint()
        assert head is not None and verify_proof(source.prove(17).to_json(), head, target.public_key())
        target.append([draft(30)])  # the copy goes on where the source stopped, with the same key
        assert target.checkpoint("gitops").verify(source.public_key()) and target.verify().ok
    assert str(result).startswith("copied 30 events and 3 checkpoints from ")


def test_an_interrupted_or_outdated_copy_is_resumed(source: AuditLog, log_store: LogStore) -> None:
    with open_log(log_store.url) as target:
        target.copy_in(list(source.event_rows())[:12], [], [])  # a run killed after its first batches
        migrate(source, target)
        source.append([draft(i) for i in range(30, 35)])
        source.checkpoint("gitops")
        result = migrate(source, target)
        assert (result.copied, result.already, result.checkpoints) == (5, 30, 4)
        assert rows(target) == rows(source) and target.verify().ok


def test_a_tampered_source_is_refused_and_nothing_copied(source: AuditLog, log_store: LogStore, tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "source" / "audit.db")
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("""UPDATE events SET body = '{"i":4}' WHERE seq = 5""")
    conn.commit()
    conn.close()
    with open_log(log_store.url) as target:
        with pytest.raises(AuditError, match="the source log does not verify, nothing copied: .*seq 5: leaf hash mismatch"):
            migrate(source, target)
        assert target.size() == 0 and not log_store.key_path.exists()


def test_a_target_holding_another_log_is_refused(source: AuditLog, log_store: LogStore) -> None:
    with open_log(log_store.url) as target:
        target.append([draft(0, other=True)])
        with pytest.raises(AuditError, match="not empty and not an earlier copy"):
            migrate(source, target)
        assert target.size() == 1


def test_a_target_with_another_signing_key_is_refused(source: AuditLog, log_store: LogStore) -> None:
    with open_log(log_store.url) as target:
        target.public_key()  # creates a key of its own
        with pytest.raises(AuditError, match="holds another signing key than the source's"):
            migrate(source, target)
        assert target.size() == 0


def test_a_postgresql_target_must_name_a_key_file(source: AuditLog, pg_schema: PgSchema) -> None:
    with open_log(pg_schema.url()) as target, pytest.raises(AuditError, match=r"add \?signing_key=PATH to postgresql://"):
        migrate(source, target)


def test_cli_migrate_then_verify_and_prove(run_cli, source: AuditLog, pg_schema: PgSchema, tmp_path: Path) -> None:
    source_url = f"sqlite:///{tmp_path}/source/audit.db"
    target_url = pg_schema.url(tmp_path / "pg" / "audit.key")
    done = run_cli("migrate", "--from", source_url, "--to", target_url, "-o", "json")
    assert done.returncode == 0, done.stderr
    assert '"copied": 30' in done.stdout and '"ok": true' in done.stdout
    verified = run_cli("verify", "--db", target_url)
    assert (verified.returncode, verified.stdout.strip()) == (0, "audit log verified: 30 events, 3 signed checkpoints")
    missing = run_cli("migrate", "--from", f"sqlite:///{tmp_path}/none.db", "--to", target_url)
    assert missing.returncode == 3 and missing.stderr.strip().endswith("none.db: check --from")
    listed = run_cli("changes", "--db", target_url, "-o", "json", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 30 and (tmp_path / "cache" / "auditsvc" / "replicas").is_dir()


def test_a_replica_follows_its_source_and_is_remade_for_another_log(source: AuditLog, log_store: LogStore, tmp_path: Path) -> None:
    replica = tmp_path / "replicas" / "r.db"
    with open_log(log_store.url) as log:
        migrate(source, log)
        assert refresh_replica(log, replica) is False  # created: nothing dropped
        log.append([draft(i) for i in range(30, 33)])
        assert refresh_replica(log, replica) is False
        with open_log(f"sqlite:///{replica}") as copy:
            assert list(copy.event_rows()) == list(log.event_rows())
    with open_log(f"sqlite:///{tmp_path}/other.db") as other:  # another log now behind the same URL
        other.append([draft(i, other=True) for i in range(40)])
        assert refresh_replica(other, replica) is True  # the old replica was dropped
        with open_log(f"sqlite:///{replica}") as copy:
            assert list(copy.event_rows()) == list(other.event_rows())
