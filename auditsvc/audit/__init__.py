"""The tamper-evident, append-only audit log: RFC 6962 Merkle tree, Ed25519 checkpoints, SQLite or PostgreSQL."""

from collections.abc import Callable

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
from auditsvc.audit.store import AuditLog
from auditsvc.errors import AuditError

__all__ = [
    "EVENT_TYPES",
    "AuditLog",
    "Checkpoint",
    "Event",
    "EventDraft",
    "InclusionProof",
    "Problem",
    "SqliteAuditLog",
    "VerifyReport",
    "load_or_create_key",
    "open_log",
    "verify_checkpoint",
    "verify_checkpoint_consistency",
    "verify_proof",
]


def open_log(
    url: str, key_path: str | None = None, *, create: bool = True, clock: Callable[[], str] | None = None
) -> AuditLog:
    """Open the audit log at url, choosing the backend by its scheme (sqlite:/// or postgresql://).

    create=False makes a missing log an error instead of creating an empty one. psycopg is
    imported only for a PostgreSQL URL, so SQLite users (every hook process) do not pay for it.
    """
    scheme = url.split(":", 1)[0] if isinstance(url, str) else ""
    if scheme == "sqlite":
        return SqliteAuditLog.open(url, key_path, create=create, clock=clock)
    if scheme in ("postgresql", "postgres"):
        from auditsvc.audit.postgres import PostgresAuditLog

        return PostgresAuditLog.open(url, key_path, create=create, clock=clock)
    raise AuditError(
        f"audit log URL {url!r} is not supported: use sqlite:///relative/path.db, sqlite:////absolute/path.db "
        "or postgresql://USER@HOST:PORT/DATABASE"
    )
