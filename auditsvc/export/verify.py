"""Checking an evidence bundle offline: no database, no network, only the file (and a pinned key).

The checks are those listed in bundle.py, in order: the archive's bytes, the manifest, the
public key and the checkpoint's signature, the export record, every event against its proof,
the period and the signed count and digest, then the resource contents.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from auditsvc.audit import Checkpoint, Event, InclusionProof, verify_proof
from auditsvc.audit.canonical import canonical_json
from auditsvc.audit.log import leaf_hash_of
from auditsvc.audit.signing import PublicKeyLike, load_public_key, public_key_pem, public_key_raw
from auditsvc.errors import AuditError
from auditsvc.export.bundle import (
    BUNDLE_FORMAT, CHECKPOINT, CONTENTS, EVENTS, EXPORT, MANIFEST, MEMBERS, PROOFS, PUBLIC_KEY, referenced_contents,
    zip_chunks,
)
from auditsvc.export.selection import Period

EVENT_KEYS = frozenset(("seq", "type", "natural_key", "repo", "ref", "commit", "recorded_at", "body", "leaf_hash"))
MAX_PROBLEMS = 20
_CHUNK = 1 << 20
_LINES = 1000


@dataclasses.dataclass
class BundleReport:
    """What verify_bundle found; ok when no problem."""

    problems: list[str] = dataclasses.field(default_factory=list)
    events: int = 0
    contents: int = 0
    checkpoint: Checkpoint | None = None
    key_fingerprint: str = ""
    key_pinned: bool = False
    export: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, message: str) -> None:
        self.problems.append(message)
        if len(self.problems) >= MAX_PROBLEMS:
            raise _TooMany

    def __str__(self) -> str:
        if not self.ok:
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            return f"bundle FAILED verification: {self.problems[0]}{more}"
        period = self.export.get("period") or {}
        head = self.checkpoint
        key = "pinned key" if self.key_pinned else "the key inside the bundle: pass --public-key to pin the log's key"
        return (
            f"bundle verified: {self.events} events recorded {period.get('from')} .. {period.get('to')}"
            f"{' in repo ' + period['repo'] if period.get('repo') else ''}, {self.contents} resource versions, "
            f"export record seq {self.export.get('seq')}, checkpoint size {head.size if head else '?'} "
            f"signed by key SHA256:{self.key_fingerprint} ({key})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "events": self.events,
            "contents": self.contents,
            "checkpoint": self.checkpoint.to_dict() if self.checkpoint else None,
            "key_fingerprint": self.key_fingerprint,
            "key_pinned": self.key_pinned,
            "export": self.export,
        }


class _TooMany(Exception):
    pass


class _DigestSet:
    """The content digests the events reference, in a private temporary SQLite database (on
    disk), so verifying a bundle of millions of changes stays in bounded memory."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")
        self.db.execute("CREATE TABLE referenced (digest TEXT PRIMARY KEY) WITHOUT ROWID")
        self.pending: list[tuple[str]] = []

    def add(self, digests: Iterable[str]) -> None:
        self.pending.extend((d,) for d in digests)
        if len(self.pending) >= _LINES:
            self.flush()

    def flush(self) -> None:
        self.db.executemany("INSERT OR IGNORE INTO referenced VALUES (?)", self.pending)
        self.pending = []

    def take(self, digest: str) -> bool:
        """Whether digest was referenced (and not taken before)."""
        return self.db.execute("DELETE FROM referenced WHERE digest = ?", [digest]).rowcount == 1

    def left(self, limit: int) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT digest FROM referenced ORDER BY digest LIMIT ?", [limit])]


class _Bad(Exception):
    """A member is unusable: verification cannot go on past it."""


def verify_bundle(path: str | Path, public_key: PublicKeyLike | None = None) -> BundleReport:
    """Check a bundle offline, without the database; never raises for a damaged bundle.

    public_key pins the log's key (as obtained from its operator); without it the key inside the
    bundle is used and the report says so.
    """
    report = BundleReport()
    try:
        with zipfile.ZipFile(path) as archive:
            _verify(Path(path), archive, public_key, report)
    except _TooMany:
        pass
    except _Bad as err:
        report.problems.append(str(err))
    except Exception as err:  # noqa: BLE001 - zipfile raises many kinds on a damaged archive; any is a failure
        report.problems.append(f"the archive is damaged: {err}")
    return report


def _member(archive: zipfile.ZipFile, name: str) -> IO[bytes]:
    return archive.open(name)


def _chunks(archive: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    with archive.open(name) as member:
        while chunk := member.read(_CHUNK):
            yield chunk


def _verify(path: Path, archive: zipfile.ZipFile, public_key: PublicKeyLike | None, report: BundleReport) -> None:
    names = [info.filename for info in archive.infolist()]
    if tuple(names) != MEMBERS:
        raise _Bad(f"the archive holds {', '.join(names) or 'nothing'}; a bundle holds exactly {', '.join(MEMBERS)}, in that order")
    if not _same_bytes(path, archive):
        report.problem("the archive's bytes differ from the archive its members make (its container was altered)")

    manifest = _json_member(archive, MANIFEST)
    files = manifest.get("files")
    if set(manifest) != {"format", "export_seq", "files"} or manifest.get("format") != BUNDLE_FORMAT or not isinstance(files, dict):
        raise _Bad(f"{MANIFEST} is not an {BUNDLE_FORMAT} manifest")
    if set(files) != set(MEMBERS[:-1]):
        report.problem(f"{MANIFEST} lists {', '.join(sorted(files))}, not the bundle's files")
    for name in MEMBERS[:-1]:
        digest = hashlib.sha256()
        for chunk in _chunks(archive, name):
            digest.update(chunk)
        if files.get(name) != digest.hexdigest():
            report.problem(f"{name}: SHA-256 differs from the manifest")

    key = _public_key(archive, public_key, report)
    checkpoint = _checkpoint(archive, key, report)
    record = _event_of(_json_member(archive, EXPORT), EXPORT)
    body = record.body
    if record.type != "access" or body.get("action") != "export" or not isinstance(body.get("period"), dict):
        raise _Bad(f"{EXPORT} is not an export record")
    report.export = {**body, "seq": record.seq}
    if manifest.get("export_seq") != record.seq:
        report.problem(f"{MANIFEST} names export record seq {manifest.get('export_seq')}, {EXPORT} holds seq {record.seq}")
    if checkpoint.size < record.seq:
        report.problem(f"the checkpoint (size {checkpoint.size}) does not cover the export record (seq {record.seq})")
    referenced = _DigestSet()
    try:
        _check_events(archive, record, checkpoint, key, referenced, report)
        _check_contents(archive, referenced, report)
    finally:
        referenced.db.close()


def _check_events(
    archive: zipfile.ZipFile, record: Event, checkpoint: Checkpoint, key: Any, referenced: _DigestSet, report: BundleReport
) -> None:
    """Each event against its proof and the period; all of them against the signed export record."""
    body = record.body
    period = body["period"]
    scope = Period(str(period.get("from")), str(period.get("to")), period.get("repo"))
    running = hashlib.sha256()  # the export record's events_digest, recomputed
    with _member(archive, EVENTS) as events, _member(archive, PROOFS) as proofs:
        proof_lines = iter(proofs)
        last_seq = 0
        for number, raw in enumerate(events, start=1):
            event = _event_of(_canonical_line(raw, f"{EVENTS} line {number}"), f"{EVENTS} line {number}")
            where = f"event {event.seq}"
            if event.seq <= last_seq:
                report.problem(f"{where}: out of order or repeated (after seq {last_seq})")
            last_seq = event.seq
            if not scope.holds(event):
                report.problem(f"{where}: outside the exported period or repository")
            _check_proof(next(proof_lines, None), event, checkpoint, key, where, report)
            running.update(bytes.fromhex(event.leaf_hash))
            referenced.add(referenced_contents(event))
            report.events += 1
        _check_proof(next(proof_lines, None), record, checkpoint, key, f"the export record (seq {record.seq})", report)
        if next(proof_lines, None) is not None:
            report.problem(f"{PROOFS} has more proofs than events")
    referenced.flush()
    if report.events != body.get("events"):
        report.problem(
            f"the bundle holds {report.events} events, the signed export record says {body.get('events')}: "
            "events were removed or added"
        )
    elif running.hexdigest() != body.get("events_digest"):
        report.problem("the events differ from those the signed export record names: events were replaced")


def _same_bytes(path: Path, archive: zipfile.ZipFile) -> bool:
    rebuilt = zip_chunks((name, _chunks(archive, name)) for name in MEMBERS)
    with path.open("rb") as original:
        for chunk in rebuilt:
            if original.read(len(chunk)) != chunk:
                return False
        return original.read(1) == b""


def _canonical_line(raw: bytes, where: str) -> Any:
    try:
        text = raw.decode("utf-8")
        value = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        raise _Bad(f"{where} is not JSON") from None
    if canonical_json(value) + "\n" != text:
        raise _Bad(f"{where} is not in canonical form (it was edited)")
    return value


def _json_member(archive: zipfile.ZipFile, name: str) -> Any:
    data = archive.read(name)
    if data.count(b"\n") != 1:
        raise _Bad(f"{name} must be one line of canonical JSON")
    return _canonical_line(data, name)


def _event_of(value: Any, where: str) -> Event:
    if not isinstance(value, dict) or set(value) != EVENT_KEYS:
        raise _Bad(f"{where} is not an event (it must have exactly {', '.join(sorted(EVENT_KEYS))})")
    event = Event(**value)
    if not isinstance(event.seq, int) or not isinstance(event.recorded_at, str) or not isinstance(event.body, dict):
        raise _Bad(f"{where} is not an event")
    if leaf_hash_of(event.leaf).hex() != event.leaf_hash:
        raise _Bad(f"{where}: the leaf hash does not match the event's fields (event {event.seq} was changed)")
    return event


def _check_proof(raw: bytes | None, event: Event, checkpoint: Checkpoint, key: Any, where: str, report: BundleReport) -> None:
    if raw is None:
        report.problem(f"{where}: no inclusion proof in {PROOFS}")
        return
    value = _canonical_line(raw, f"{PROOFS} ({where})")
    try:
        proof = InclusionProof.from_json(value)
    except AuditError as err:
        raise _Bad(f"{PROOFS} ({where}): {err}") from None
    if proof.seq != event.seq:
        report.problem(f"{where}: the next proof is for seq {proof.seq}")
        return
    if not verify_proof(dataclasses.replace(proof, leaf=event.leaf), checkpoint, key):
        report.problem(f"{where}: not included in the signed checkpoint (the event or its proof was changed)")


def _public_key(archive: zipfile.ZipFile, pinned: PublicKeyLike | None, report: BundleReport) -> Any:
    try:
        inside = load_public_key(archive.read(PUBLIC_KEY).decode("ascii"))
    except (AuditError, UnicodeDecodeError) as err:
        raise _Bad(f"{PUBLIC_KEY}: {err}") from None
    if public_key_pem(inside).encode("ascii") != archive.read(PUBLIC_KEY):
        report.problem(f"{PUBLIC_KEY} is not in the form auditsvc writes")
    key = inside
    if pinned is not None:
        key = load_public_key(pinned)
        report.key_pinned = True
        if public_key_raw(key) != public_key_raw(inside):
            report.problem(f"{PUBLIC_KEY} is not the pinned public key")
    report.key_fingerprint = hashlib.sha256(public_key_raw(key)).hexdigest()
    return key


def _checkpoint(archive: zipfile.ZipFile, key: Any, report: BundleReport) -> Checkpoint:
    value = _json_member(archive, CHECKPOINT)
    try:
        checkpoint = Checkpoint.from_dict(value)
    except AuditError as err:
        raise _Bad(f"{CHECKPOINT}: {err}") from None
    if set(value) != {"body", "signature"} or not checkpoint.verify(key):
        raise _Bad(f"{CHECKPOINT}: the signature does not verify with the log's public key")
    report.checkpoint = checkpoint
    return checkpoint


def _check_contents(archive: zipfile.ZipFile, referenced: _DigestSet, report: BundleReport) -> None:
    previous = ""
    with _member(archive, CONTENTS) as contents:
        for number, raw in enumerate(contents, start=1):
            value = _canonical_line(raw, f"{CONTENTS} line {number}")
            if not isinstance(value, dict) or set(value) != {"content", "digest"}:
                raise _Bad(f"{CONTENTS} line {number} is not a content record")
            digest = value["digest"]
            if not isinstance(digest, str) or digest <= previous:
                report.problem(f"{CONTENTS} line {number}: out of order or repeated")
                continue
            previous = digest
            if hashlib.sha256(canonical_json(value["content"]).encode("utf-8")).hexdigest() != digest:
                report.problem(f"{CONTENTS} line {number}: the content does not hash to its digest {digest}")
            if not referenced.take(digest):
                report.problem(f"{CONTENTS} line {number}: content {digest} is referenced by no event")
            report.contents += 1
    for digest in referenced.left(3):
        report.problem(f"content {digest}, referenced by an event, is missing from {CONTENTS}")
