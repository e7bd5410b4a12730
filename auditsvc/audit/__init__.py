"""The tamper-evident, append-only audit log: RFC 6962 Merkle tree, Ed25519 checkpoints, SQLite."""

from auditsvc.audit.log import (
    EVENT_TYPES,
    Event,
    EventDraft,
    InclusionProof,
    Problem,
    VerifyReport,
    verify_checkpoint_consistency,
    verify_proof,
)
from auditsvc.audit.signing import Checkpoint, load_or_create_key, verify_checkpoint
from auditsvc.audit.sqlite import SqliteAuditLog

__all__ = [
    "EVENT_TYPES",
    "Checkpoint",
    "Event",
    "EventDraft",
    "InclusionProof",
    "Problem",
    "SqliteAuditLog",
    "VerifyReport",
    "load_or_create_key",
    "verify_checkpoint",
    "verify_checkpoint_consistency",
    "verify_proof",
]
