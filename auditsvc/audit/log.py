"""Backend-independent pieces of the audit log: events, leaves, proofs, reports, offline checks.

The leaf of event seq N is the UTF-8 canonical JSON of

    {"seq": N, "type", "natural_key", "repo", "ref", "commit", "recorded_at", "body"}

(body as the JSON object itself), hashed per RFC 6962. Anyone holding an event's columns, an
inclusion proof and a signed checkpoint can check it with `verify_proof`, no database needed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from auditsvc.audit import merkle
from auditsvc.audit.canonical import canonical_json
from auditsvc.audit.signing import Checkpoint, PublicKeyLike
from auditsvc.errors import AuditError

EVENT_TYPES = ("push", "change", "override", "violation", "deploy", "drift", "import", "access")
"""The event types the rest of auditsvc writes; the log accepts any non-empty lowercase type."""


@dataclasses.dataclass(frozen=True)
class EventDraft:
    """An event to append; seq, recorded_at and the leaf hash are assigned by the log.

    natural_key identifies the fact the event records (e.g. "push:<receive id>:<ref>"): appending
    a draft whose natural key is already in the log adds nothing.
    """

    type: str
    natural_key: str
    repo: str | None = None
    ref: str | None = None
    commit: str | None = None
    body: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def check(self) -> str:
        """Validate the draft; returns the canonical JSON of its body."""
        if not isinstance(self.type, str) or not self.type or not self.type.replace("_", "").replace("-", "").isalnum():
            raise AuditError(f"event type {self.type!r} must be a non-empty word such as push or change")
        if self.type != self.type.lower():
            raise AuditError(f"event type {self.type!r} must be lowercase")
        if not isinstance(self.natural_key, str) or not self.natural_key:
            raise AuditError(f"event natural_key must be a non-empty string, not {self.natural_key!r}")
        for name in ("repo", "ref", "commit"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise AuditError(f"event {name} must be a string or None, not {type(value).__name__}")
        if not isinstance(self.body, Mapping):
            raise AuditError(f"event body must be a mapping, not {type(self.body).__name__}")
        return canonical_json(dict(self.body))


@dataclasses.dataclass(frozen=True)
class Event:
    """One recorded event, as stored."""

    seq: int
    type: str
    natural_key: str
    repo: str | None
    ref: str | None
    commit: str | None
    recorded_at: str
    body: dict[str, Any]
    leaf_hash: str  # hex

    @property
    def leaf(self) -> str:
        """The canonical JSON whose RFC 6962 leaf hash is leaf_hash."""
        return canonical_json(self.leaf_fields())

    def leaf_fields(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "natural_key": self.natural_key,
            "repo": self.repo,
            "ref": self.ref,
            "commit": self.commit,
            "recorded_at": self.recorded_at,
            "body": self.body,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.leaf_fields(), "leaf_hash": self.leaf_hash}


def leaf_json(
    seq: Any, type: Any, natural_key: Any, repo: Any, ref: Any, commit: Any, recorded_at: Any, body_text: Any
) -> str:
    """The canonical leaf JSON from stored column values (body_text is the stored body JSON).

    Raises ValueError or TypeError when body_text is not JSON (a corrupted row).
    """
    if not isinstance(body_text, str):
        raise TypeError("body is not text")
    fields = {
        "seq": seq,
        "type": type,
        "natural_key": natural_key,
        "repo": repo,
        "ref": ref,
        "commit": commit,
        "recorded_at": recorded_at,
        "body": json.loads(body_text),
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def leaf_hash_of(leaf: str) -> bytes:
    return merkle.leaf_hash(leaf.encode("utf-8"))


# --- proofs ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class InclusionProof:
    """Proof that event `seq` (leaf `index` = seq - 1) is in the tree of `size` with `root`.

    Hashes are lowercase hex. `leaf` is the event's canonical leaf JSON, so the proof also
    shows what the event says, not only that some leaf is there.
    """

    seq: int
    index: int
    size: int
    leaf_hash: str
    path: tuple[str, ...]
    root: str
    leaf: str | None = None

    def to_dict(self) -> dict[str, Any]:
        value = dataclasses.asdict(self)
        value["path"] = list(self.path)
        return value

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, value: str | bytes | Mapping[str, Any]) -> InclusionProof:
        """Parse a proof from JSON text or a dict; AuditError when it is malformed."""
        try:
            data = json.loads(value) if isinstance(value, (str, bytes)) else dict(value)
            proof = cls(
                seq=_int(data["seq"]),
                index=_int(data["index"]),
                size=_int(data["size"]),
                leaf_hash=_hex32(data["leaf_hash"]),
                path=tuple(_hex32(p) for p in data["path"]),
                root=_hex32(data["root"]),
                leaf=data.get("leaf"),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise AuditError(f"not an inclusion proof: {err!s}") from None
        if proof.leaf is not None and not isinstance(proof.leaf, str):
            raise AuditError("not an inclusion proof: leaf must be a string")
        return proof


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not an integer")
    return value


def _hex32(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 64:
        raise ValueError(f"{value!r} is not a 32-byte hex hash")
    bytes.fromhex(value)
    return value.lower()


def verify_proof(
    proof_json: str | bytes | Mapping[str, Any] | InclusionProof,
    checkpoint: Checkpoint | Mapping[str, Any] | str,
    public_key: PublicKeyLike,
) -> bool:
    """Offline check: the checkpoint is signed by public_key and the proof ties the event to it.

    checkpoint is a Checkpoint, its to_dict() or its to_json(). Checks the signature, that the
    proof is for the checkpoint's size and root, that the leaf JSON (when present) hashes to the
    leaf hash and names the same seq, and the RFC 6962 audit path. Never raises; False on any
    malformed, mismatching or tampered input.
    """
    try:
        proof = proof_json if isinstance(proof_json, InclusionProof) else InclusionProof.from_json(proof_json)
        head = Checkpoint.from_dict(checkpoint)
        if not head.verify(public_key):
            return False
        if proof.size != head.size or proof.root != head.root.hex() or proof.index != proof.seq - 1:
            return False
        leaf_hash = bytes.fromhex(proof.leaf_hash)
        if proof.leaf is not None:
            if leaf_hash_of(proof.leaf) != leaf_hash:
                return False
            fields = json.loads(proof.leaf)
            if not isinstance(fields, dict) or fields.get("seq") != proof.seq:
                return False
        return merkle.verify_inclusion(
            leaf_hash, proof.index, proof.size, [bytes.fromhex(p) for p in proof.path], head.root
        )
    except (AuditError, ValueError, TypeError):
        return False


def verify_checkpoint_consistency(
    old: Checkpoint, new: Checkpoint, proof: Sequence[str], public_key: PublicKeyLike
) -> bool:
    """Offline check that two signed checkpoints belong to one append-only log (old is a prefix)."""
    try:
        if not (old.verify(public_key) and new.verify(public_key)):
            return False
        return merkle.verify_consistency(old.size, new.size, old.root, new.root, [bytes.fromhex(p) for p in proof])
    except (AuditError, ValueError, TypeError):
        return False


# --- verification reports -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Problem:
    """One integrity problem; seq names the event, checkpoint the checkpoint size, when known."""

    message: str
    seq: int | None = None
    checkpoint: int | None = None

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.message}" if self.seq is not None else self.message


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """The result of recomputing the whole log; problems are in log order (first bad first)."""

    events: int  # event rows read
    checkpoints: int  # checkpoints whose root and signature were checked
    problems: tuple[Problem, ...] = ()
    truncated: bool = False  # more problems than reported

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    @property
    def first_bad_seq(self) -> int | None:
        """The first event named by a problem (a checkpoint problem names no single event)."""
        for problem in self.problems:
            if problem.seq is not None:
                return problem.seq
        return None

    def __str__(self) -> str:
        if self.ok:
            return f"audit log verified: {self.events} events, {self.checkpoints} signed checkpoint{'' if self.checkpoints == 1 else 's'}"
        more = len(self.problems) - 1
        suffix = f" (and {more}{'+' if self.truncated else ''} more)" if more or self.truncated else ""
        return f"audit log FAILED verification: {self.problems[0]}{suffix}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "checkpoints": self.checkpoints,
            "problems": [dataclasses.asdict(p) for p in self.problems],
            "truncated": self.truncated,
        }
