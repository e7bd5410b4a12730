"""The two line formats: the CSV population list and JSONL (every event, every field)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from auditsvc.audit import Event
from auditsvc.audit.canonical import canonical_json
from auditsvc.export.population import SIGNATURES, ChangeRow

CSV_COLUMNS = (
    "change_id", "repo", "ref", "commit", "resource", "api_version", "path", "operation", "description",
    "author", "committer", "pusher", "pushed_at", "signature", "policy_verdict", "findings", "override",
    "override_reason", "first_deploy", "rollback_commit", "rollback_change_id",
)
_FLUSH = 1000  # rows per chunk


def person(record: dict | None) -> str:
    """Name <email>, or whichever of them is known."""
    record = record or {}
    name, email = record.get("name") or "", record.get("email") or ""
    return f"{name} <{email}>" if name and email else name or email


def pusher_text(row: ChangeRow) -> str:
    if row.imported:
        return "unknown (imported history)"
    pusher = row.body.get("pusher") or {}
    name = pusher.get("name") or "?"
    source = pusher.get("source") or "?"
    return f"{name} ({source}{'' if pusher.get('authenticated') else ', not authenticated'})"


def signature_text(row: ChangeRow) -> str:
    signature = row.body.get("signature") or {}
    status = signature.get("status") or "N"
    text = f"{status} ({SIGNATURES.get(status, 'unknown')})"
    return f"{text} by {signature['signer']}" if signature.get("signer") else text


def finding_text(finding: dict) -> str:
    label = "FAIL" if finding.get("outcome") == "failure" else "WARN"
    return f"{label} {finding.get('rule')}: {finding.get('message')} ({finding.get('path')}:{finding.get('line')})"


def deploys_text(row: ChangeRow) -> str:
    return "; ".join(f"{d.cluster}={d.reported_at}" for d in row.deploys)


def csv_values(row: ChangeRow) -> list[str]:
    body = row.body
    resource = body.get("resource") or {}
    override = row.override.body if row.override else {}
    rollback_seq, rollback_commit = row.rollback or ("", "")
    return [
        str(row.event.seq), row.event.repo or "", row.event.ref or "", row.event.commit or "", row.resource_label,
        resource.get("apiVersion") or "", body.get("path") or "", body.get("op") or "", body.get("subject") or "",
        person(body.get("author")), person(body.get("committer")), pusher_text(row), row.pushed_at or "",
        signature_text(row), row.verdict, "; ".join(finding_text(f) for f in row.findings),
        "yes" if row.override else "", override.get("reason") or "", deploys_text(row), rollback_commit,
        str(rollback_seq),
    ]


def csv_chunks(rows: Iterable[ChangeRow]) -> Iterator[bytes]:
    """RFC 4180 CSV (UTF-8, CRLF), a header row and one row per change, in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for count, row in enumerate(rows, start=1):
        writer.writerow(csv_values(row))
        if count % _FLUSH == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def jsonl_chunks(events: Iterable[Event]) -> Iterator[bytes]:
    """One event per line: its canonical JSON with every column, the body and the leaf hash."""
    return line_chunks(canonical_json(event.to_dict()) for event in events)


def line_chunks(lines: Iterable[str]) -> Iterator[bytes]:
    """Lines joined into chunks of _FLUSH lines, each line ending in a newline."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= _FLUSH:
            yield ("\n".join(batch) + "\n").encode("utf-8")
            batch = []
    if batch:
        yield ("\n".join(batch) + "\n").encode("utf-8")
