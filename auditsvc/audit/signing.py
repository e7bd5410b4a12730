"""Ed25519 keys and signed checkpoints (tree heads) in the transparency-log "checkpoint" style.

A checkpoint body is four lines, each ending in a newline:

    <origin>
    <tree size, decimal>
    <root hash, standard base64>
    <time, RFC 3339 UTC>

and the signature is Ed25519 over exactly those UTF-8 bytes. `Checkpoint.to_note` renders the
C2SP signed-note form (body, blank line, "— <key name> base64(key id || signature)").
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any, Union

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditsvc.audit.canonical import is_rfc3339_utc
from auditsvc.errors import AuditError

PublicKeyLike = Union[Ed25519PublicKey, Ed25519PrivateKey, bytes, str]

NOTE_DASH = "\u2014"  # the em dash that starts a signed-note signature line


# --- keys -----------------------------------------------------------------------------------


def load_or_create_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The Ed25519 private key stored at path (PEM, PKCS#8); created with mode 0600 if absent.

    Refuses a key file that group or others can access: a signing key anyone can read makes
    every checkpoint forgeable.
    """
    key_path = Path(path)
    if not key_path.exists():
        store_key(key_path, Ed25519PrivateKey.generate())
    return _load_key(key_path)


def load_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The existing private key at path (same permission checks as load_or_create_key)."""
    return _load_key(Path(path))


def store_key(path: str | os.PathLike[str], key: Ed25519PrivateKey) -> None:
    """Write key (PEM, PKCS#8) to path with mode 0600; an existing file is left as it is.

    Concurrent writers agree: the first file linked into place wins, whatever the others wrote.
    """
    key_path = Path(path)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    temporary = key_path.with_name(f".{key_path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, key_path)  # atomic and never overwrites: concurrent creators agree
        except FileExistsError:
            pass
    except OSError as err:
        raise AuditError(f"cannot create signing key {key_path}: {err.strerror}") from None
    finally:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass


def _load_key(key_path: Path) -> Ed25519PrivateKey:
    try:
        info = key_path.stat()
    except FileNotFoundError:
        raise AuditError(f"signing key {key_path} does not exist") from None
    except OSError as err:
        raise AuditError(f"cannot read signing key {key_path}: {err.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise AuditError(f"signing key {key_path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise AuditError(
            f"signing key {key_path} has mode {mode:04o}, so group or others can access it; "
            f"run `chmod 600 {key_path}` (and rotate the key if others may have read it)"
        )
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as err:
        raise AuditError(f"cannot read signing key {key_path}: {err.strerror}") from None
    except (ValueError, TypeError) as err:
        raise AuditError(f"signing key {key_path} is not an unencrypted PEM private key: {err}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditError(f"signing key {key_path} is not an Ed25519 key")
    return key


def public_key_raw(key: PublicKeyLike) -> bytes:
    """The 32-byte raw Ed25519 public key."""
    return load_public_key(key).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_base64(key: PublicKeyLike) -> str:
    """The raw public key as standard base64 (44 characters)."""
    return base64.b64encode(public_key_raw(key)).decode("ascii")


def public_key_pem(key: PublicKeyLike) -> str:
    """The public key as a PEM SubjectPublicKeyInfo block."""
    return (
        load_public_key(key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def load_public_key(value: PublicKeyLike) -> Ed25519PublicKey:
    """An Ed25519 public key from a key object, 32 raw bytes, base64 of them, or PEM text."""
    if isinstance(value, Ed25519PublicKey):
        return value
    if isinstance(value, Ed25519PrivateKey):
        return value.public_key()
    try:
        if isinstance(value, str) and "-----BEGIN" in value:
            key = serialization.load_pem_public_key(value.encode("ascii"))
            if not isinstance(key, Ed25519PublicKey):
                raise AuditError("public key is not an Ed25519 key")
            return key
        raw = base64.b64decode(value.strip(), validate=True) if isinstance(value, str) else bytes(value)
        return Ed25519PublicKey.from_public_bytes(raw)
    except AuditError:
        raise
    except (ValueError, TypeError, binascii.Error, UnicodeError) as err:
        raise AuditError(f"not an Ed25519 public key (raw, base64 or PEM): {err}") from None


def key_id(name: str, key: PublicKeyLike) -> bytes:
    """The 4-byte signed-note key ID: SHA-256(name || "\\n" || 0x01 || raw public key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + public_key_raw(key)).digest()[:4]


# --- checkpoints ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: the log `origin` had `size` events with Merkle `root` at `time`."""

    origin: str
    size: int
    root: bytes  # 32-byte Merkle tree hash
    time: str  # RFC 3339 UTC
    signature: bytes  # Ed25519 over `body`

    @property
    def body(self) -> str:
        return checkpoint_body(self.origin, self.size, self.root, self.time)

    @property
    def root_hex(self) -> str:
        return self.root.hex()

    @property
    def signature_base64(self) -> str:
        return base64.b64encode(self.signature).decode("ascii")

    def verify(self, public_key: PublicKeyLike) -> bool:
        return verify_checkpoint(self.body, self.signature, public_key)

    def to_dict(self) -> dict[str, Any]:
        """{"body": ..., "signature": base64}: everything needed to check it offline."""
        return {"body": self.body, "signature": self.signature_base64}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_body(cls, body: str, signature: bytes | str) -> Checkpoint:
        """Parse a checkpoint body (does NOT check the signature; call verify)."""
        origin, size, root, time = parse_checkpoint_body(body)
        return cls(origin, size, root, time, _signature_bytes(signature))

    @classmethod
    def from_dict(cls, value: Any) -> Checkpoint:
        if isinstance(value, Checkpoint):
            return value
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as err:
                raise AuditError(f"checkpoint is not JSON: {err}") from None
        if not isinstance(value, dict) or not isinstance(value.get("body"), str):
            raise AuditError('checkpoint must be {"body": "...", "signature": "<base64>"}')
        return cls.from_body(value["body"], value.get("signature", ""))

    def to_note(self, key_name: str, public_key: PublicKeyLike) -> str:
        """The C2SP signed-note text: body, a blank line, then "— <name> <base64(key id || sig)>"."""
        if not key_name or any(c.isspace() for c in key_name) or "+" in key_name:
            raise AuditError(f"note key name {key_name!r} must be non-empty, without spaces or '+'")
        blob = base64.b64encode(key_id(key_name, public_key) + self.signature).decode("ascii")
        return f"{self.body}\n{NOTE_DASH} {key_name} {blob}\n"

    @classmethod
    def from_note(cls, note: str, key_name: str, public_key: PublicKeyLike) -> Checkpoint:
        """Parse a signed note and pick the signature by `key_name` and its key ID (then verify)."""
        body, sep, signatures = note.rpartition("\n\n")
        if not sep:
            raise AuditError("signed note lacks the blank line between body and signatures")
        body += "\n"
        wanted = key_id(key_name, public_key)
        for line in signatures.splitlines():
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] != NOTE_DASH or parts[1] != key_name:
                continue
            try:
                blob = base64.b64decode(parts[2], validate=True)
            except binascii.Error:
                continue
            if blob[:4] == wanted:
                return cls.from_body(body, blob[4:])
        raise AuditError(f"signed note has no signature by key {key_name!r} with that public key")


def checkpoint_body(origin: str, size: int, root: bytes, time: str) -> str:
    """The signed text: origin, size, base64 root, time, each on its own line."""
    if not origin or "\n" in origin or origin != origin.strip():
        raise AuditError(f"checkpoint origin {origin!r} must be one non-empty line without surrounding spaces")
    if not isinstance(size, int) or size < 0:
        raise AuditError(f"checkpoint size must be a non-negative integer, not {size!r}")
    if len(root) != 32:
        raise AuditError("checkpoint root must be a 32-byte hash")
    if not is_rfc3339_utc(time):
        raise AuditError(f"checkpoint time {time!r} is not RFC 3339 UTC (like 2026-01-31T12:00:00Z)")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n{time}\n"


def parse_checkpoint_body(body: str) -> tuple[str, int, bytes, str]:
    """(origin, size, root, time) from a body; AuditError unless it is exactly in the canonical form."""
    lines = body.split("\n")
    if len(lines) != 5 or lines[-1] != "":
        raise AuditError("checkpoint body must be exactly four lines, each ending in a newline")
    origin, size_text, root_text, time = lines[:4]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")) or not size_text.isascii():
        raise AuditError(f"checkpoint size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error:
        raise AuditError(f"checkpoint root {root_text!r} is not base64") from None
    parsed = (origin, int(size_text), root, time)
    if checkpoint_body(*parsed) != body:
        raise AuditError("checkpoint body is not in canonical form")
    return parsed


def sign_checkpoint(key: Ed25519PrivateKey, origin: str, size: int, root: bytes, time: str) -> Checkpoint:
    body = checkpoint_body(origin, size, root, time)
    return Checkpoint(origin, size, root, time, key.sign(body.encode("utf-8")))


def verify_checkpoint(body: str | bytes, signature: bytes | str, public_key: PublicKeyLike) -> bool:
    """Whether signature (raw or base64) is a valid Ed25519 signature of body by public_key.

    Returns False, never raises, for a wrong, malformed or truncated signature; raises AuditError
    only when public_key itself is unusable.
    """
    key = load_public_key(public_key)
    try:
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        key.verify(_signature_bytes(signature), data)
    except (InvalidSignature, AuditError, ValueError, TypeError):
        return False
    return True


def _signature_bytes(signature: bytes | str) -> bytes:
    if isinstance(signature, (bytes, bytearray)):
        return bytes(signature)
    try:
        return base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise AuditError("checkpoint signature is not base64") from None
