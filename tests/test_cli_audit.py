"""`auditsvc verify`, `prove` and `verify-proof` against a real SQLite audit log."""

from __future__ import annotations

import json
import sqlite3

from auditsvc.audit import EventDraft, SqliteAuditLog


def make_log(tmp_path, events: int = 6) -> str:
    url = f"sqlite:///{tmp_path}/audit.db"
    with SqliteAuditLog.open(url) as log:
        log.append([EventDraft("push", f"push:{i}", "gitops", "refs/heads/main", f"{i:040x}", {"n": i}) for i in range(events)])
        log.checkpoint("gitops")
    return url


def test_verify_passes_then_names_the_edited_event(run_cli, tmp_path):
    url = make_log(tmp_path)
    ok = run_cli("verify", "--db", url)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "audit log verified: 6 events, 1 signed checkpoint"
    with sqlite3.connect(tmp_path / "audit.db") as raw:
        raw.execute("DROP TRIGGER events_no_update")  # what an attacker with file access would do
        raw.execute("""UPDATE events SET body = '{"n":99}' WHERE seq = 4""")
    bad = run_cli("verify", "--db", url, "-o", "json")
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False
    assert [p["seq"] for p in report["problems"] if p["seq"] is not None][0] == 4


def test_proof_verifies_offline_and_detects_tampering(run_cli, tmp_path):
    url = make_log(tmp_path)
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


def test_errors_are_one_line(run_cli, tmp_path):
    url = make_log(tmp_path)
    for args, message in [
        (("verify", "--db", f"sqlite:///{tmp_path}/none.db"), "no audit log at"),
        (("prove", "99", "--db", url), "no event 99 in the audit log (it holds 6 events)"),
        (("verify-proof", "/dev/null"), "not a proof file"),
    ]:
        proc = run_cli(*args)
        assert proc.returncode == 3, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
