"""The audit log on both backends: append, idempotency, contents, checkpoints, proofs, key files."""

from __future__ import annotations

import json
import os
import stat

import pytest
from conftest import LogStore
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditsvc.audit import AuditLog, EventDraft, InclusionProof, open_log, verify_proof
from auditsvc.audit.canonical import canonical_json, is_rfc3339_utc
from auditsvc.audit.log import verify_checkpoint_consistency
from auditsvc.audit.merkle import leaf_hash
from auditsvc.audit.signing import Checkpoint, public_key_base64
from auditsvc.errors import AuditError

from .conftest import draft


def test_append_assigns_gapless_seqs_and_stores_canonical_bodies(log: AuditLog, log_store: LogStore) -> None:
    assert log.size() == 0 and log.append([]) == []
    assert log.append([draft(1), draft(2)]) == [1, 2]
    assert log.append([EventDraft("override", "override:x", body={"reason": "incident ünïcode", "b": [1, {"z": 1, "a": 2}]})]) == [3]
    event = log.get(3)
    assert event is not None and event.body == {"reason": "incident ünïcode", "b": [1, {"z": 1, "a": 2}]}
    assert event.repo is None and event.ref is None and event.commit is None
    (raw,) = log_store.execute("SELECT body, recorded_at FROM events WHERE seq = 3")
    assert raw[0] == '{"b":[1,{"a":2,"z":1}],"reason":"incident ünïcode"}'
    assert is_rfc3339_utc(raw[1])
    assert [e.seq for e in log.events()] == [1, 2, 3]
    assert [e.seq for e in log.events(since_seq=2)] == [3]
    assert log.get(4) is None
    assert log.seq_of("change:2") == 2 and log.seq_of("nope") is None


def test_leaf_is_the_canonical_json_of_the_event_columns(log: AuditLog) -> None:
    (seq,) = log.append([draft(7)])
    event = log.get(seq)
    assert event is not None
    assert json.loads(event.leaf) == {
        "seq": 1,
        "type": "change",
        "natural_key": "change:7",
        "repo": "infra",
        "ref": "refs/heads/main",
        "commit": f"{7:040x}",
        "recorded_at": event.recorded_at,
        "body": {"i": 7, "path": "clusters/prod/app-7.yaml"},
    }
    assert event.leaf == canonical_json(json.loads(event.leaf))
    assert leaf_hash(event.leaf.encode()).hex() == event.leaf_hash


def test_append_is_idempotent_per_natural_key(log: AuditLog) -> None:
    assert log.append([draft(1), draft(2)]) == [1, 2]
    # replays, a replay mixed with new events, and duplicates inside one batch
    assert log.append([draft(2), draft(1)]) == [2, 1]
    assert log.append([draft(3), draft(2), draft(3), draft(4)]) == [3, 2, 3, 4]
    changed = EventDraft("change", "change:1", body={"different": True})
    assert log.append([changed]) == [1]
    assert log.size() == 4
    assert log.get(1).body == {"i": 1, "path": "clusters/prod/app-1.yaml"}  # type: ignore[union-attr]


def test_many_events_in_one_call_use_chunked_lookups(log: AuditLog) -> None:
    drafts = [draft(i) for i in range(1234)]
    assert log.append(drafts) == list(range(1, 1235))
    assert log.append(drafts[::-1]) == list(range(1234, 0, -1))
    assert sum(1 for _ in log.events()) == 1234


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (EventDraft("", "k"), "event type"),
        (EventDraft("Push", "k"), "lowercase"),
        (EventDraft("push", ""), "natural_key"),
        (EventDraft("push", "k", repo=5), "repo must be a string"),  # type: ignore[arg-type]
        (EventDraft("push", "k", body=[1]), "body must be a mapping"),  # type: ignore[arg-type]
        (EventDraft("push", "k", body={"x": float("nan")}), "canonical JSON"),
        (EventDraft("push", "k", body={"x": object()}), "canonical JSON"),
    ],
)
def test_invalid_drafts_are_refused_and_nothing_is_appended(log: AuditLog, bad: EventDraft, message: str) -> None:
    with pytest.raises(AuditError, match=message):
        log.append([draft(1), bad])
    assert log.size() == 0


def test_contents_are_stored_once_by_digest(log: AuditLog, log_store: LogStore) -> None:
    value = {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3}}
    digest = log.put_content(value)
    assert digest == log.put_content({"spec": {"replicas": 3}, "metadata": {"name": "web"}, "kind": "Deployment"})
    assert len(digest) == 64 and log.get_content(digest) == value
    assert log_store.execute("SELECT count(*) FROM contents") == [(1,)]
    assert log.get_content("0" * 64) is None


def test_checkpoint_signs_the_tree_head_and_is_idempotent(log: AuditLog, log_store: LogStore) -> None:
    assert log.latest_checkpoint() is None
    log.append([draft(i) for i in range(5)])
    head = log.checkpoint("audit.example.com/infra")
    assert stat.S_IMODE(os.stat(log.key_path).st_mode) == 0o600
    lines = head.body.split("\n")
    assert lines[:2] == ["audit.example.com/infra", "5"] and lines[4] == "" and len(lines) == 5
    assert is_rfc3339_utc(lines[3]) and lines[3].endswith("Z")
    assert head.root == log.root() and head.verify(log.public_key())
    assert log.checkpoint("audit.example.com/infra") == head
    assert log.latest_checkpoint() == head
    log.append([draft(5)])
    second = log.checkpoint("audit.example.com/infra")
    assert second.size == 6 and log.checkpoints() == [head, second]
    (row,) = log_store.execute("SELECT size, root, time, body, signature FROM checkpoints WHERE size = 5")
    assert row == (5, head.root.hex(), head.time, head.body, head.signature_base64)


def test_checkpoint_of_the_empty_log_verifies(log: AuditLog) -> None:
    head = log.checkpoint("origin")
    assert head.size == 0
    assert log.verify().ok and log.verify().checkpoints == 1


def test_inclusion_proofs_verify_offline_from_json(log: AuditLog) -> None:
    log.append([draft(i) for i in range(13)])
    head = log.checkpoint("audit.example.com/infra")
    public = public_key_base64(log.public_key())
    exported = {seq: log.prove(seq).to_json() for seq in range(1, 14)}
    checkpoint_json = head.to_json()
    log.close()  # offline: nothing below touches the database
    for seq, proof_json in exported.items():
        assert verify_proof(proof_json, checkpoint_json, public), seq
        proof = InclusionProof.from_json(proof_json)
        assert proof.seq == seq and proof.index == seq - 1 and proof.size == 13
        assert json.loads(proof.leaf or "")["natural_key"] == f"change:{seq - 1}"


def test_tampered_proofs_fail(log: AuditLog) -> None:
    log.append([draft(i) for i in range(9)])
    head = log.checkpoint("origin")
    key = log.public_key()
    good = json.loads(log.prove(4).to_json())
    assert verify_proof(good, head, key)

    def variant(**changes: object) -> dict:
        return {**good, **changes}

    flipped = lambda h: ("1" if h[0] == "0" else "0") + h[1:]  # noqa: E731
    leaf = json.loads(good["leaf"])
    forged_leaf = canonical_json({**leaf, "body": {**leaf["body"], "i": 99}})
    for bad in [
        variant(leaf_hash=flipped(good["leaf_hash"])),
        variant(root=flipped(good["root"])),
        variant(path=[flipped(good["path"][0])] + good["path"][1:]),
        variant(path=good["path"][:-1]),
        variant(index=5),
        variant(seq=5, index=4),
        variant(size=10),
        variant(leaf=forged_leaf),
        variant(leaf=good["leaf"].replace('"seq":4', '"seq":5')),
        variant(path="not a list"),
        {"seq": 4},
    ]:
        assert not verify_proof(json.dumps(bad), head, key), bad
    assert not verify_proof("{not json", head, key)
    # a checkpoint signed by another key, or edited, does not vouch for anything
    assert not verify_proof(good, head, Ed25519PrivateKey.generate().public_key())
    edited = Checkpoint(head.origin, head.size, head.root, "2026-01-01T00:00:00.000000Z", head.signature)
    assert not verify_proof(good, edited, key)


def test_proofs_against_older_checkpoints_and_explicit_sizes(log: AuditLog) -> None:
    log.append([draft(i) for i in range(3)])
    first = log.checkpoint("origin")
    log.append([draft(i) for i in range(3, 10)])
    second = log.checkpoint("origin")
    key = log.public_key()
    assert verify_proof(log.prove(2, size=3).to_json(), first, key)
    assert verify_proof(log.prove(2).to_json(), second, key)
    assert not verify_proof(log.prove(2, size=3).to_json(), second, key)
    proof = log.prove_consistency(3, 10)
    assert verify_checkpoint_consistency(first, second, proof, key)
    assert not verify_checkpoint_consistency(first, second, proof[1:], key)
    log.append([draft(10)])
    with pytest.raises(AuditError, match="not covered by a signed checkpoint"):
        log.prove(11)
    with pytest.raises(AuditError, match="cannot prove event"):
        log.prove(2, size=12)
    with pytest.raises(AuditError, match="cannot prove event"):
        log.prove(0, size=5)


def test_no_checkpoint_means_no_default_proof(log: AuditLog) -> None:
    log.append([draft(1)])
    with pytest.raises(AuditError, match="there is no checkpoint"):
        log.prove(1)


def test_prove_many_gives_the_proofs_prove_gives(log: AuditLog) -> None:
    log.append([draft(i) for i in range(1, 12)])
    head = log.checkpoint("test")
    proofs = list(log.prove_many([3, 1, 11], head.size))
    assert [p.seq for p in proofs] == [3, 1, 11]
    for proof in proofs:
        single = log.prove(proof.seq, head.size)
        assert (proof.path, proof.root, proof.leaf_hash, proof.size) == (single.path, single.root, single.leaf_hash, single.size)
        assert proof.leaf is None and verify_proof(proof, head, log.public_key())
    with pytest.raises(AuditError):
        list(log.prove_many([12], head.size))
    with pytest.raises(AuditError):
        list(log.prove_many([1], head.size + 1))


def test_the_key_lives_in_a_file_outside_the_database(log: AuditLog, log_store: LogStore) -> None:
    log.append([draft(1)])
    log.checkpoint("o")
    assert log.key_path == log_store.key_path and stat.S_IMODE(os.stat(log_store.key_path).st_mode) == 0o600
    with open_log(log_store.url) as again:  # another writer with the same URL signs with the same key
        again.append([draft(2)])
        assert again.checkpoint("o").verify(log.public_key())


def test_open_without_create_refuses_a_missing_log(log_store: LogStore) -> None:
    with pytest.raises(AuditError, match="no audit log at"):
        open_log(log_store.url, create=False)
    open_log(log_store.url).close()
    with open_log(log_store.url, create=False) as log:
        assert log.size() == 0


def test_newer_schema_version_is_refused(log: AuditLog, log_store: LogStore) -> None:
    log_store.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with pytest.raises(AuditError, match="schema version 2; this auditsvc reads version 1"):
        open_log(log_store.url)


def test_an_older_schema_is_migrated_once_on_open(
    log: AuditLog, log_store: LogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release that adds a migration: logs of the previous version are upgraded when opened."""
    log.append([draft(1)])
    backend = type(log)
    added = ("CREATE TABLE migrated_marker (note TEXT)", "INSERT INTO migrated_marker VALUES ('v2')")
    monkeypatch.setattr(backend, "MIGRATIONS", (*backend.MIGRATIONS, added))
    with open_log(log_store.url) as upgraded:
        assert upgraded.size() == 1 and upgraded.verify().ok
    with open_log(log_store.url):  # already at version 2: nothing runs twice
        pass
    assert log_store.execute("SELECT value FROM meta WHERE key = 'schema_version'") == [("2",)]
    assert log_store.execute("SELECT note FROM migrated_marker") == [("v2",)]


def test_open_log_refuses_unknown_schemes() -> None:
    for url in ("mysql://db/audit", "audit.db", "file:///tmp/a.db"):
        with pytest.raises(AuditError, match="is not supported: use sqlite:///"):
            open_log(url)
