"""The evidence bundle verifies offline and fails on any changed byte, removed or added event."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from auditsvc.audit.canonical import canonical_json
from auditsvc.audit.signing import public_key_base64
from auditsvc.export import verify_bundle
from auditsvc.export.bundle import MANIFEST, MEMBERS, zip_chunks


@pytest.fixture(scope="module")
def bundle(story, tmp_path_factory) -> Path:
    return story.bundle(tmp_path_factory.mktemp("bundle") / "evidence.zip")


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rewrite(path: Path, files: dict[str, bytes], out: Path) -> Path:
    """Write the bundle again as an attacker who knows the format would: manifest updated to match."""
    manifest = json.loads(files[MANIFEST])
    manifest["files"] = {n: hashlib.sha256(files[n]).hexdigest() for n in MEMBERS[:-1]}
    files = {**files, MANIFEST: (canonical_json(manifest) + "\n").encode()}
    out.write_bytes(b"".join(zip_chunks((n, [files[n]]) for n in MEMBERS)))
    return out


def test_bundle_verifies_and_holds_the_events_their_contents_and_proofs(story, bundle):
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    files = members(bundle)
    assert list(files) == list(MEMBERS)
    events = [json.loads(line) for line in files["events.jsonl"].splitlines()]
    period = story.period()
    with story.server.log() as log:
        record = json.loads(files["export.json"])
        expected = [e.to_dict() for e in log.events() if period.holds(e) and e.seq < record["seq"]]
        assert events == expected
        contents = {json.loads(line)["digest"]: json.loads(line)["content"] for line in files["contents.jsonl"].splitlines()}
        referenced = {e["body"][k] for e in events if e["type"] == "change" for k in ("before", "after") if e["body"].get(k)}
        assert set(contents) == referenced
        assert all(log.get_content(d) == value for d, value in contents.items())
        assert files["public-key.pem"].decode() .startswith("-----BEGIN PUBLIC KEY-----")
        assert report.key_fingerprint == hashlib.sha256(log.public_key().public_bytes_raw()).hexdigest()
    proofs = [json.loads(line) for line in files["proofs.jsonl"].splitlines()]
    assert [p["seq"] for p in proofs] == [e["seq"] for e in events] + [record["seq"]]
    checkpoint = json.loads(files["checkpoint.json"])
    assert {p["size"] for p in proofs} == {int(checkpoint["body"].split("\n")[1])}
    assert report.events == len(events) and report.contents == len(contents)
    assert record["type"] == "access" and record["body"]["events"] == len(events)


def test_bundle_of_one_repository(story, tmp_path):
    report = verify_bundle(story.bundle(tmp_path / "legacy.zip", repo="legacy"))
    assert report.ok, report.problems
    assert report.export["period"]["repo"] == "legacy" and report.events > 0


def flipped(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def positions(size: int, count: int) -> list[int]:
    """Spread over the whole file, plus the first and last 64 bytes (headers, central directory)."""
    step = max(1, size // count)
    return sorted({*range(0, size, step), *range(min(64, size)), *range(max(0, size - 64), size)})


def test_any_single_byte_changed_fails(bundle, tmp_path):
    data = bundle.read_bytes()
    target = tmp_path / "changed.zip"
    for position in positions(len(data), 400):
        target.write_bytes(flipped(data, position))
        assert not verify_bundle(target).ok, f"byte {position} of {len(data)} changed and the bundle still verified"


def test_a_byte_added_or_removed_fails(bundle, tmp_path):
    data = bundle.read_bytes()
    target = tmp_path / "resized.zip"
    for position in positions(len(data), 50):
        for edited in (data[:position] + b"\n" + data[position:], data[:position] + data[position + 1 :]):
            target.write_bytes(edited)
            assert not verify_bundle(target).ok, f"a byte added or removed at {position} went unnoticed"
    target.write_bytes(data + b"\0")
    assert not verify_bundle(target).ok


@pytest.mark.slow
def test_every_single_byte_changed_fails(story, tmp_path):
    """Every byte of a small bundle (one repository's): each member, header and directory entry."""
    data = story.bundle(tmp_path / "side.zip", repo="side").read_bytes()
    target = tmp_path / "changed.zip"
    for position in range(len(data)):
        target.write_bytes(flipped(data, position))
        assert not verify_bundle(target).ok, f"byte {position} of {len(data)} changed and the bundle still verified"


def test_a_consistently_edited_event_fails_its_proof(bundle, tmp_path):
    files = members(bundle)
    lines = files["events.jsonl"].decode().splitlines()
    index = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "override")
    event = json.loads(lines[index])
    event["body"]["reason"] = "routine change"
    from auditsvc.audit import Event

    event["leaf_hash"] = Event(**event).leaf_hash  # keep the old hash: the leaf check catches it
    lines[index] = canonical_json(event)
    report = verify_bundle(rewrite(bundle, {**files, "events.jsonl": ("\n".join(lines) + "\n").encode()}, tmp_path / "edited.zip"))
    assert not report.ok and f"event {event['seq']}" in report.problems[0]


def test_an_event_removed_fails(bundle, tmp_path):
    files = members(bundle)
    events = files["events.jsonl"].decode().splitlines()
    proofs = files["proofs.jsonl"].decode().splitlines()
    index = next(i for i, line in enumerate(events) if json.loads(line)["type"] == "override")
    del events[index], proofs[index]
    edited = {**files, "events.jsonl": ("\n".join(events) + "\n").encode(), "proofs.jsonl": ("\n".join(proofs) + "\n").encode()}
    report = verify_bundle(rewrite(bundle, edited, tmp_path / "removed.zip"))
    assert not report.ok and "removed or added" in report.problems[0]


def test_an_event_added_with_a_valid_proof_fails(story, tmp_path):
    """A real event of the log from outside the exported repository, with a real proof against the
    bundle's own checkpoint, added: every proof verifies, the signed export record does not."""
    bundle = story.bundle(tmp_path / "side.zip", repo="side")
    files = members(bundle)
    size = int(json.loads(files["checkpoint.json"])["body"].split("\n")[1])
    with story.server.log() as log:
        extra = next(e for e in log.events() if e.repo == "server" and e.type == "override")
        proof = log.prove(extra.seq, size).to_dict()
    del proof["leaf"]
    events = [json.loads(line) for line in files["events.jsonl"].splitlines()] + [extra.to_dict()]
    proofs = [json.loads(line) for line in files["proofs.jsonl"].splitlines()]
    proofs.insert(-1, proof)  # the export record's proof stays last
    events.sort(key=lambda e: e["seq"])
    proofs[:-1] = sorted(proofs[:-1], key=lambda p: p["seq"])
    edited = {
        **files,
        "events.jsonl": "".join(canonical_json(e) + "\n" for e in events).encode(),
        "proofs.jsonl": "".join(canonical_json(p) + "\n" for p in proofs).encode(),
    }
    report = verify_bundle(rewrite(bundle, edited, tmp_path / "added.zip"))
    assert not report.ok
    assert f"event {extra.seq}: outside the exported period or repository" in report.problems
    assert any("removed or added" in p for p in report.problems)
    assert not any("not included" in p for p in report.problems)  # the added proof itself is valid


def test_an_event_added_with_its_proof_fails_on_the_signed_count(story, bundle, tmp_path):
    files = members(bundle)
    events = files["events.jsonl"].decode().splitlines()
    proofs = files["proofs.jsonl"].decode().splitlines()
    # duplicate an event and its proof: both verify on their own
    events.insert(1, events[1])
    proofs.insert(1, proofs[1])
    edited = {**files, "events.jsonl": ("\n".join(events) + "\n").encode(), "proofs.jsonl": ("\n".join(proofs) + "\n").encode()}
    report = verify_bundle(rewrite(bundle, edited, tmp_path / "duplicated.zip"))
    assert not report.ok and any("repeated" in p or "removed or added" in p for p in report.problems)


def test_a_pinned_key_that_is_not_the_logs_fails(bundle):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    assert not verify_bundle(bundle, Ed25519PrivateKey.generate().public_key()).ok
    assert verify_bundle(bundle, members(bundle)["public-key.pem"].decode()).key_pinned


def test_cli_export_and_verify_bundle(story, run_cli, tmp_path):
    with story.server.log() as log:
        key = tmp_path / "log.pub"
        key.write_text(public_key_base64(log.public_key()))
    out = tmp_path / "cli.zip"
    done = run_cli("export", "--from", story.start, "--format", "bundle", "-o", out, "--db", story.server.url)
    assert done.returncode == 0, done.stderr
    checked = run_cli("verify-bundle", out, "--public-key", key)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("bundle verified: ") and "pinned key" in checked.stdout
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(flipped(out.read_bytes(), 200))
    failed = run_cli("verify-bundle", damaged)
    assert failed.returncode == 1 and failed.stdout.startswith("bundle FAILED verification: ")
    assert run_cli("verify-bundle", tmp_path / "missing.zip").returncode == 3
    bad_date = run_cli("export", "--from", "yesterday-ish", "--format", "csv", "-o", tmp_path / "x.csv", "--db", story.server.url)
    assert bad_date.returncode == 3 and "cannot read the time" in bad_date.stderr and "Traceback" not in bad_date.stderr
    assert not (tmp_path / "x.csv").exists()


def test_every_format_exports_from_either_backend(log_store, tmp_path, run_cli):
    """The exports read the log through the query layer: a PostgreSQL log (through its local
    replica) exports and verifies as a SQLite one does."""
    from auditsvc.audit import EventDraft, open_log

    with open_log(log_store.url) as log:
        digest = log.put_content({"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}})
        body = {
            "op": "created", "path": "cfg.yaml", "old_path": None, "before": None, "after": digest, "diff": [],
            "resource": {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "", "name": "cfg"},
            "author": {"name": "Ada", "email": "ada@example.com", "time": "2026-11-27T00:00:00Z"},
            "committer": {"name": "Ada", "email": "ada@example.com", "time": "2026-11-27T00:00:00Z"},
            "subject": "add cfg", "signature": {"status": "N", "signer": "", "key": ""},
            "pusher": {"name": "alice", "source": "os", "authenticated": False},
        }
        log.append([EventDraft("change", "change:r:c1:cfg.yaml:v1/ConfigMap//cfg", "r", "refs/heads/main", "c1" * 20, body)])
        log.checkpoint("r")
    for format_ in ("csv", "jsonl", "html", "oscal", "bundle"):
        out = tmp_path / f"export.{format_}"
        proc = run_cli("export", "--from", "1d", "--format", format_, "-o", str(out), "--db", log_store.url)
        assert proc.returncode == 0, proc.stderr
        assert out.stat().st_size > 0
    assert "cfg.yaml" in (tmp_path / "export.csv").read_text()
    verified = run_cli("verify-bundle", str(tmp_path / "export.bundle"))
    assert verified.returncode == 0 and verified.stdout.startswith("bundle verified: "), verified.stdout
