"""Compliance exports of the audit log, streamed as bytes chunks in bounded memory.

    period = Period.parse("2026-01-01", "2026-03-31", repo="infra")
    with open("q1.zip", "wb") as out:
        for chunk in export(log, "bundle", period, actor={"name": "ada", "source": "cli"}, origin="audit.example.com"):
            out.write(chunk)
    print(verify_bundle("q1.zip"))

Formats: csv (population list, one row per change), jsonl (every event, every field), bundle
(ZIP evidence that verifies offline), html (a printable report), oscal (OSCAL assessment results,
JSON). Every export first appends an `access` event naming who exported what (see
selection.record_export); the bundle also signs a checkpoint covering it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from auditsvc.audit import AuditLog
from auditsvc.errors import ConfigError
from auditsvc.export.verify import BundleReport, verify_bundle
from auditsvc.export.selection import Period, Selection, record_export

FORMATS = ("csv", "jsonl", "bundle", "html", "oscal")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/jsonl; charset=utf-8",
    "bundle": "application/zip",
    "html": "text/html; charset=utf-8",
    "oscal": "application/json",
}
SUFFIXES = {"csv": ".csv", "jsonl": ".jsonl", "bundle": ".zip", "html": ".html", "oscal": ".oscal.json"}

__all__ = ["FORMATS", "MEDIA_TYPES", "SUFFIXES", "BundleReport", "Period", "export", "verify_bundle"]


def export(
    log: AuditLog, format: str, period: Period, *, actor: Mapping[str, Any], origin: str
) -> Iterator[bytes]:
    """The export of `period` in `format`, as bytes chunks to write or stream in order.

    The work that can fail on bad input or a busy log (selecting the events, appending the export
    record, signing the checkpoint) is done before this returns, so a caller (the HTTP route)
    can still answer with an error; the chunks then only read. actor names who exports (recorded
    in the export record); origin names the log in a checkpoint signed for the bundle.
    """
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}: use one of {', '.join(FORMATS)}")
    selection = Selection(log, period)
    try:
        record = record_export(log, selection, format, actor)
        checkpoint = log.checkpoint(origin) if format == "bundle" else None
    except BaseException:
        selection.close()
        raise
    return _stream(log, format, selection, record, checkpoint)


def _stream(log: AuditLog, format: str, selection: Selection, record: Any, checkpoint: Any) -> Iterator[bytes]:
    try:
        if format == "csv":
            from auditsvc.export.population import change_rows
            from auditsvc.export.tables import csv_chunks

            yield from csv_chunks(change_rows(selection))
        elif format == "jsonl":
            from auditsvc.export.tables import jsonl_chunks

            yield from jsonl_chunks(selection.events())
        elif format == "bundle":
            from auditsvc.export.bundle import bundle_chunks

            yield from bundle_chunks(log, selection, record, checkpoint)
        elif format == "html":
            from auditsvc.export.report import html_chunks

            yield from html_chunks(log, selection, record)
        else:
            from auditsvc.export.oscal import oscal_chunks

            yield from oscal_chunks(selection, record)
    finally:
        selection.close()
