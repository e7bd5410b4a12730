"""The evidence bundle: one ZIP archive that verifies offline (verify.py checks it).

Members, in this order (each line of a .jsonl file is canonical JSON):

    events.jsonl     every event of the period: seq, type, natural_key, repo, ref, commit,
                     recorded_at, body, leaf_hash
    proofs.jsonl     an RFC 6962 inclusion proof per event, then one for the export record,
                     all against the checkpoint below
    contents.jsonl   {"content", "digest"}: every resource version the events reference, by digest
    export.json      the export record: the `access` event the export appended, naming the period,
                     who exported, and count, first/last seq and a digest of the events' leaf hashes
    checkpoint.json  a signed checkpoint (tree head) covering every event above
    public-key.pem   the Ed25519 key that signed it (pin it: verify-bundle --public-key)
    manifest.json    {"format", "export_seq", "files": {name: SHA-256}}

The archive is stored uncompressed with fixed timestamps, so its bytes are canonical: the
verifier writes the archive again from its members and compares every byte, then checks the
members. An event changed fails its proof; one removed or added changes the digest the signed
export record holds; any other byte changed fails the manifest, a signature or the container.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

from auditsvc.audit import AuditLog, Checkpoint, Event
from auditsvc.audit.canonical import canonical_json
from auditsvc.audit.signing import public_key_pem
from auditsvc.export.selection import Selection
from auditsvc.export.tables import line_chunks

BUNDLE_FORMAT = "auditsvc-evidence-bundle/1"
EVENTS, PROOFS, CONTENTS, EXPORT, CHECKPOINT, PUBLIC_KEY, MANIFEST = (
    "events.jsonl", "proofs.jsonl", "contents.jsonl", "export.json", "checkpoint.json", "public-key.pem", "manifest.json",
)
MEMBERS = (EVENTS, PROOFS, CONTENTS, EXPORT, CHECKPOINT, PUBLIC_KEY, MANIFEST)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 20
_LINES = 1000


# --- the container ------------------------------------------------------------------------


class _Sink(io.RawIOBase):
    """Where zipfile writes: collected bytes handed out by drain() (it cannot seek, so zipfile streams)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.pending = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        self.pending += len(data)
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        self.pending = 0
        return out


def zip_chunks(members: Iterable[tuple[str, Iterable[bytes]]]) -> Iterator[bytes]:
    """A ZIP archive of the members (name, data chunks), written as it streams, byte-canonical:
    stored, fixed time and attributes, ZIP64 sizes, so the same members give the same bytes."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, chunks in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as out:
                for chunk in chunks:
                    out.write(chunk)
                    if sink.pending >= _CHUNK:
                        yield sink.drain()
            yield sink.drain()
    yield sink.drain()


# --- writing ------------------------------------------------------------------------------


def bundle_chunks(
    log: AuditLog, selection: Selection, record: Event, checkpoint: Checkpoint
) -> Iterator[bytes]:
    """The bundle of the selection; record is the export's access event, checkpoint covers it."""
    digests: dict[str, str] = {}

    def hashed(name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)
            yield chunk
        digests[name] = digest.hexdigest()

    def manifest() -> Iterator[bytes]:
        yield _line({"format": BUNDLE_FORMAT, "export_seq": record.seq, "files": digests})

    members = [
        (EVENTS, _event_lines(selection)),
        (PROOFS, _proof_lines(log, selection, record, checkpoint)),
        (CONTENTS, _content_lines(log, selection)),
        (EXPORT, iter([_line(record.to_dict())])),
        (CHECKPOINT, iter([_line(checkpoint.to_dict())])),
        (PUBLIC_KEY, iter([public_key_pem(log.public_key()).encode("ascii")])),
    ]
    return zip_chunks([*((name, hashed(name, chunks)) for name, chunks in members), (MANIFEST, manifest())])


def _line(value: Any) -> bytes:
    return (canonical_json(value) + "\n").encode("utf-8")


def _event_lines(selection: Selection) -> Iterator[bytes]:
    """events.jsonl; notes the content digests the events reference in a temporary table."""
    db = selection.db
    db.execute("DROP TABLE IF EXISTS temp.export_digests")
    db.execute("CREATE TEMP TABLE export_digests (digest TEXT PRIMARY KEY) WITHOUT ROWID")

    def lines() -> Iterator[str]:
        referenced: list[tuple[str]] = []
        for event in selection.events():
            referenced.extend((d,) for d in referenced_contents(event))
            if len(referenced) >= _LINES:
                db.executemany("INSERT OR IGNORE INTO temp.export_digests VALUES (?)", referenced)
                referenced = []
            yield canonical_json(event.to_dict())
        db.executemany("INSERT OR IGNORE INTO temp.export_digests VALUES (?)", referenced)

    return line_chunks(lines())


def referenced_contents(event: Event) -> list[str]:
    """The content digests a change event names (before and after)."""
    if event.type != "change":
        return []
    return [d for d in (event.body.get("before"), event.body.get("after")) if isinstance(d, str)]


def _proof_lines(log: AuditLog, selection: Selection, record: Event, checkpoint: Checkpoint) -> Iterator[bytes]:
    def seqs() -> Iterator[int]:
        yield from selection.seqs()
        yield record.seq

    def lines() -> Iterator[str]:
        for proof in log.prove_many(seqs(), checkpoint.size):
            value = proof.to_dict()
            del value["leaf"]  # the event's line is the leaf: the verifier rebuilds it from there
            yield canonical_json(value)

    return line_chunks(lines())


def _content_lines(log: AuditLog, selection: Selection) -> Iterator[bytes]:
    """contents.jsonl, read through the log: a PostgreSQL log's local replica holds no contents."""

    def lines() -> Iterator[str]:
        for (digest,) in selection.db.execute("SELECT digest FROM temp.export_digests ORDER BY digest"):
            content = log.get_content(digest)
            if content is not None:
                yield canonical_json({"content": content, "digest": digest})

    return line_chunks(lines())
