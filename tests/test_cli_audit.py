"""`auditsvc verify`, `prove`, `verify-proof` and `init` against a real audit log, on both backends."""

from __future__ import annotations

import json

from conftest import LogStore

from auditsvc.audit import EventDraft, open_log


def make_log(log_store: LogStore, events: int = 6) -> str:
    url = log_store.url
    with open_log(url) as log:
        log.append([EventDraft("push", f"push:{i}", "gitops", "refs/heads/main", f"{i:040x}", {"n": i}) for i in range(events)])
        log.checkpoint("gitops")
    return url


def test_verify_passes_then_names_the_edited_event(run_cli, log_store):
    url = make_log(log_store)
    ok = run_cli("verify", "--db", url)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "audit log verified: 6 events, 1 signed checkpoint"
    # what an attacker who owns the database would do
    unguard = "DROP TRIGGER events_no_update" if log_store.kind == "sqlite" else "ALTER TABLE events DISABLE TRIGGER USER"
    log_store.execute(unguard)
    log_store.execute("""UPDATE events SET body = '{"n":99}' WHERE seq = 4""")
    bad = run_cli("verify", "--db", url, "-o", "json")
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False
    assert [p["seq"] for p in report["problems"] if p["seq"] is not None][0] == 4


def test_proof_verifies_offline_and_detects_tampering(run_cli, log_store, tmp_path):
    url = make_log(log_store)
    proof = run_cli("prove", "3", "--db", url)
    assert proof.returncode == 0, proof.stderr
    (tmp_path / "proof.json").write_text(proof.stdout)
    key = tmp_path / "log.pub"
    key.write_text(json.loads(proof.stdout)["public_key"])
    good = run_cli("verify-proof", "proof.json", "--public-key", key)
    assert (good.returncode, good.stdout.strip()) == (0, "event 3 is included in the signed tree of size 6")
    document = json.loads(proof.stdout)
    document["proof"]["leaf"] = document["proof"]["leaf"].replace('"n":2', '"n":7')
    (tmp_path / "forged.json").write_text(json.dumps(document))
    forged = run_cli("verify-proof", "forged.json", "--public-key", key)
    assert forged.returncode == 1
    assert "does NOT verify" in forged.stdout


def test_errors_are_one_line(run_cli, log_store, pg_schema, tmp_path):
    url = make_log(log_store)
    for args, message in [
        (("verify", "--db", f"sqlite:///{tmp_path}/none.db"), "no audit log at"),
        (("verify", "--db", pg_schema.url()), "no audit log at postgresql://"),
        (("verify", "--db", "postgresql://postgres@127.0.0.1:9/test"), "cannot connect to audit log"),
        (("verify", "--db", "mysql://db/audit"), "is not supported: use sqlite:///"),
        (("prove", "99", "--db", url), "no event 99 in the audit log (it holds 6 events)"),
        (("verify-proof", "/dev/null"), "not a proof file"),
    ]:
        proc = run_cli(*args)
        assert proc.returncode == 3, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_init_creates_the_log_and_grants_a_writer_role(run_cli, pg_schema, pg_role, tmp_path):
    done = run_cli("init", "--db", pg_schema.url(), "--grant-writer", pg_role)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f": 0 events; {pg_role} may append and read")
    with open_log(pg_schema.url(tmp_path / "audit.key", user=pg_role)) as writer:
        writer.append([EventDraft("push", "push:1")])
        writer.checkpoint("gitops")
    verified = run_cli("verify", "--db", pg_schema.url(tmp_path / "audit.key"))
    assert verified.stdout.strip() == "audit log verified: 1 events, 1 signed checkpoint"
    sqlite = run_cli("init", "--db", f"sqlite:///{tmp_path}/a.db", "--grant-writer", "x")
    assert sqlite.returncode == 3 and "--grant-writer is for a PostgreSQL audit log" in sqlite.stderr
