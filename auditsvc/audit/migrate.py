"""Copy an audit log into another database (SQLite -> PostgreSQL, or any pair), hash for hash, and verify it.

Rows are copied as stored — seq, recorded_at, natural key, body text, leaf hash, checkpoint
body and signature — so every leaf hash, root and signature of the copy is the source's, and
proofs and checkpoints already handed to auditors stay valid against it. The signing key goes
with the log (the copy's future checkpoints must verify with the same public key).
"""

from __future__ import annotations

import dataclasses
import fcntl
from pathlib import Path
from typing import Any

from auditsvc.audit.log import VerifyReport
from auditsvc.audit.signing import load_key, public_key_raw, store_key
from auditsvc.audit.sqlite import SqliteAuditLog
from auditsvc.audit.store import AuditLog
from auditsvc.errors import AuditError


@dataclasses.dataclass(frozen=True)
class MigrateResult:
    source: str
    target: str
    copied: int  # events copied by this run
    already: int  # events the target held before (an earlier, interrupted run)
    checkpoints: int
    report: VerifyReport  # of the copy, against the source's public key

    def __str__(self) -> str:
        resumed = f" ({self.already} already there)" if self.already else ""
        return (
            f"copied {self.copied} events{resumed} and {self.checkpoints} checkpoint"
            f"{'' if self.checkpoints == 1 else 's'} from {self.source} to {self.target}; copy: {self.report}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "copied": self.copied,
            "already": self.already,
            "checkpoints": self.checkpoints,
            "verify": self.report.to_dict(),
        }


def migrate(source: AuditLog, target: AuditLog) -> MigrateResult:
    """Copy source into target, which must be empty or an earlier copy of source (resumable).

    Refuses a source that does not verify (nothing is copied), a target holding anything the
    source does not, and a target whose signing key differs; verifies the copy at the end.
    """
    checked = source.verify()
    if not checked.ok:
        raise AuditError(f"the source log does not verify, nothing copied: {checked}")
    _share_key(source, target)
    size = source.size()
    already = target.size()
    _check_prefix(source, target, size, already)
    target.copy_in(source.event_rows(already, size), source.content_rows(), source.checkpoint_rows())
    public = source.public_key() if source.checkpoints() else None
    report = target.verify(public)
    if not report.ok:
        raise AuditError(f"the copy in {target.location} does not verify: {report}")
    if target.size() != size or target.root(size) != source.root(size):
        raise AuditError(f"the copy in {target.location} differs from the source: run migrate again")
    return MigrateResult(source.location, target.location, size - already, already, len(target.checkpoints()), report)


def _share_key(source: AuditLog, target: AuditLog) -> None:
    """Give the copy the source's signing key, or check it already has the same one."""
    if source.key_path is None or not source.key_path.exists():
        return  # verify() passed, so the source has no signed checkpoints: nothing to carry over
    key = load_key(source.key_path)
    if target.key_path is None:
        raise AuditError(
            f"the copy needs the source's signing key in a file: add ?signing_key=PATH to {target.location} "
            "(auditsvc copies the key there, mode 0600)"
        )
    if target.key_path.resolve() == source.key_path.resolve():
        return
    if target.key_path.exists():
        if public_key_raw(load_key(target.key_path)) != public_key_raw(key):
            raise AuditError(
                f"{target.key_path} holds another signing key than the source's {source.key_path}: "
                "give the copy a new key path, or remove that file if it belongs to no other log"
            )
        return
    store_key(target.key_path, key)


def _check_prefix(source: AuditLog, target: AuditLog, size: int, already: int) -> None:
    if already > size:
        raise AuditError(f"{target.location} holds {already} events, more than the source's {size}: not a copy of it")
    if already and target.root(already) != source.root(already):
        raise AuditError(f"{target.location} is not empty and not an earlier copy of {source.location}: refusing to mix logs")
    heads = {row[0]: row for row in source.checkpoint_rows()}
    for row in target.checkpoint_rows():
        if heads.get(row[0]) != row:
            raise AuditError(f"{target.location} has a checkpoint at size {row[0]} the source does not: refusing to mix logs")


def refresh_replica(source: AuditLog, path: Path) -> bool:
    """Bring a local SQLite replica of source's events up to date (the query index lives in it).

    Derived data like the index itself, so no verification: the last event the replica holds
    is compared with the source's (one point read each), and a replica of some other log (the
    database was replaced, say by a restore) is dropped and copied afresh. Processes sharing
    the replica take turns (a file lock). Returns whether an existing replica was dropped and made afresh.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(path.with_name(f"{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        replica = SqliteAuditLog.open(f"sqlite:///{path}")
        fresh = False
        try:
            have = replica.size()
            if have and _last(replica, have) != _last(source, have):
                replica.close()
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                replica = SqliteAuditLog.open(f"sqlite:///{path}")
                have, fresh = 0, True
            replica.copy_in(source.event_rows(have), (), ())
        finally:
            replica.close()
    return fresh


def _last(log: AuditLog, seq: int) -> str | None:
    event = log.get(seq)
    return None if event is None else event.leaf_hash
