"""Ed25519 keys on disk and signed checkpoints."""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditsvc.audit import signing
from auditsvc.audit.signing import Checkpoint, load_or_create_key, sign_checkpoint, verify_checkpoint
from auditsvc.errors import AuditError

ROOT = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
TIME = "2026-01-31T12:00:00.000000Z"


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_key_is_created_with_mode_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit.key"
    old = os.umask(0)
    try:
        key = load_or_create_key(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    again = load_or_create_key(path)
    assert signing.public_key_raw(again) == signing.public_key_raw(key)
    assert [p.name for p in path.parent.iterdir()] == ["audit.key"]  # no temporary file left


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "audit.key"
    load_or_create_key(path)
    path.chmod(mode)
    with pytest.raises(AuditError, match=rf"mode {mode:04o}.*group or others.*chmod 600"):
        load_or_create_key(path)


def test_key_file_that_is_not_an_ed25519_pem_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_text("not a key\n")
    path.chmod(0o600)
    with pytest.raises(AuditError, match="not an unencrypted PEM private key"):
        load_or_create_key(path)


def test_public_key_exports_round_trip(key: Ed25519PrivateKey) -> None:
    raw = signing.public_key_raw(key)
    b64 = signing.public_key_base64(key)
    pem = signing.public_key_pem(key)
    assert len(raw) == 32 and base64.b64decode(b64) == raw
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    for form in (key, key.public_key(), raw, b64, pem):
        assert signing.public_key_raw(form) == raw
    with pytest.raises(AuditError):
        signing.load_public_key("not base64!")
    with pytest.raises(AuditError):
        signing.load_public_key(b"short")


def test_checkpoint_body_is_origin_size_root_time_lines(key: Ed25519PrivateKey) -> None:
    head = sign_checkpoint(key, "audit.example.com/infra", 8, ROOT, TIME)
    assert head.body == f"audit.example.com/infra\n8\n{base64.b64encode(ROOT).decode()}\n{TIME}\n"
    assert head.body == "audit.example.com/infra\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n2026-01-31T12:00:00.000000Z\n"
    assert verify_checkpoint(head.body, head.signature, key.public_key())
    assert verify_checkpoint(head.body, head.signature_base64, signing.public_key_base64(key))
    assert Checkpoint.from_body(head.body, head.signature_base64) == head
    assert Checkpoint.from_dict(head.to_json()) == head


def test_checkpoint_signature_fails_when_anything_changes(key: Ed25519PrivateKey) -> None:
    head = sign_checkpoint(key, "origin", 8, ROOT, TIME)
    other = Ed25519PrivateKey.generate()
    assert not verify_checkpoint(head.body.replace("\n8\n", "\n9\n"), head.signature, key.public_key())
    assert not verify_checkpoint(head.body + "\n", head.signature, key.public_key())
    assert not verify_checkpoint(head.body, head.signature, other.public_key())
    assert not verify_checkpoint(head.body, head.signature[:-1] + bytes([head.signature[-1] ^ 1]), key.public_key())
    assert not verify_checkpoint(head.body, "%%% not base64", key.public_key())
    assert not verify_checkpoint(head.body, b"", key.public_key())


@pytest.mark.parametrize(
    "body",
    [
        "origin\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",  # no time
        "origin\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n2026-01-31T12:00:00Z\n",  # leading zero
        "origin\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQ==\n2026-01-31T12:00:00Z\n",  # 31-byte root
        "origin\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=\n2026-01-31 12:00:00\n",  # not RFC 3339 UTC
        "origin\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=\n2026-01-31T12:00:00Z",  # no final newline
        "\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=\n2026-01-31T12:00:00Z\n",  # empty origin
    ],
)
def test_malformed_checkpoint_bodies_are_refused(body: str) -> None:
    with pytest.raises(AuditError):
        signing.parse_checkpoint_body(body)


def test_signed_note_round_trip(key: Ed25519PrivateKey) -> None:
    head = sign_checkpoint(key, "audit.example.com/infra", 8, ROOT, TIME)
    note = head.to_note("audit.example.com", key)
    body, signature_line = note.split("\n\n")
    assert body + "\n" == head.body
    assert re.fullmatch(r"\u2014 audit\.example\.com [A-Za-z0-9+/]+=*\n", signature_line)
    assert Checkpoint.from_note(note, "audit.example.com", key) == head
    with pytest.raises(AuditError, match="no signature"):
        Checkpoint.from_note(note, "audit.example.com", Ed25519PrivateKey.generate())


def test_signed_note_key_id_and_signature_match_the_go_sumdb_note_example() -> None:
    # golang.org/x/mod/sumdb/note documentation example (PeterNeumann key).
    vkey = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    assert vkey[0] == 1  # algorithm byte: Ed25519
    blob = base64.b64decode("x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=")
    text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    assert signing.key_id("PeterNeumann", vkey[1:]) == blob[:4] == bytes.fromhex("c74f20a3")
    assert verify_checkpoint(text, blob[4:], vkey[1:])
