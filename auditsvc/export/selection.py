"""Which events an export covers, fixed when it starts, and the `access` event that records it.

A period selects events by the time the log recorded them (recorded_at, RFC 3339 UTC with
microseconds, so text order is time order): from the first instant of --from to the last
instant --to includes (a date includes that whole day, as `auditsvc changes --until` does).
--repo keeps the events naming that repository. The selection is fixed to the seqs the log held
when the export started, so events appended meanwhile never half-appear.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from auditsvc import queries
from auditsvc.audit import AuditLog, Event, EventDraft
from auditsvc.audit.canonical import format_time
from auditsvc.errors import AuditError, ConfigError

_MICRO = datetime.timedelta(microseconds=1)
_PAGE = 2000


@dataclasses.dataclass(frozen=True)
class Period:
    """Events recorded from `start` to `end`, both included (RFC 3339 UTC, microseconds), of `repo` (None: all)."""

    start: str
    end: str
    repo: str | None = None

    @classmethod
    def parse(cls, start: str, end: str, repo: str | None = None) -> Period:
        """From the CLI's and the API's forms: 2026-01-01, ISO-8601 times, or spans such as 90d."""
        first = queries.parse_time(start)
        last = datetime.datetime.fromtimestamp(0, datetime.timezone.utc) + queries._until_bound(end) * _MICRO
        if last < first:
            raise ConfigError(f"the period is empty: --to {end} is before --from {start}")
        return cls(format_time(first), format_time(last), repo or None)

    def holds(self, event: Event) -> bool:
        return self.start <= event.recorded_at <= self.end and (self.repo is None or event.repo == self.repo)

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.start, "to": self.end, "repo": self.repo}


class Selection:
    """The events of a period among seqs 1..`last_seq`, read through the log; a read-only
    connection of our own for the lookups the formats make (its temporary tables stay on disk)."""

    def __init__(self, log: AuditLog, period: Period) -> None:
        self.log = log
        self.period = period
        try:
            # The log's SQLite file, or for PostgreSQL the local replica queries keep up to date.
            self.db = sqlite3.connect(f"file:{queries.events_file(log)}?mode=ro", uri=True, isolation_level=None)
            self.db.execute("PRAGMA busy_timeout = 10000")
            self.db.execute("PRAGMA temp_store = FILE")
            self.last_seq = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
            low, high = self.db.execute(
                "SELECT MIN(seq), MAX(seq) FROM events WHERE recorded_at BETWEEN ? AND ? AND seq <= ?",
                [period.start, period.end, self.last_seq],
            ).fetchone()
        except sqlite3.Error as err:
            raise AuditError(f"cannot read audit log {log.location} for export: {err}") from None
        self.low, self.high = (low, high) if low is not None else (1, 0)

    def close(self) -> None:
        self.db.close()

    def _where(self) -> tuple[str, list[Any]]:
        sql = "seq BETWEEN ? AND ? AND recorded_at BETWEEN ? AND ?"
        params: list[Any] = [self.low, self.high, self.period.start, self.period.end]
        if self.period.repo is not None:
            sql += " AND repo = ?"
            params.append(self.period.repo)
        return sql, params

    def events(self) -> Iterator[Event]:
        """The selected events in seq order (read a page at a time)."""
        if self.high < self.low:
            return
        for event in self.log.events(self.low - 1):
            if event.seq > self.high:
                return
            if self.period.holds(event):
                yield event

    def seqs(self) -> Iterator[int]:
        where, params = self._where()
        for (seq,) in self.db.execute(f"SELECT seq FROM events WHERE {where} ORDER BY seq", params):
            yield seq

    def summary(self) -> tuple[int, int | None, int | None, str]:
        """(count, first seq, last seq, SHA-256 over the selected events' leaf hashes in seq order):
        what the export record commits to, so a bundle missing or adding an event cannot verify."""
        where, params = self._where()
        count, first, last = 0, None, None

        def leaf_hashes() -> Iterator[str]:
            nonlocal count, first, last
            for seq, leaf_hash in self.db.execute(f"SELECT seq, leaf_hash FROM events WHERE {where} ORDER BY seq", params):
                count += 1
                first = seq if first is None else first
                last = seq
                yield leaf_hash

        digest = events_digest(leaf_hashes())
        return count, first, last, digest


def events_digest(leaf_hashes: Iterator[str]) -> str:
    """The export record's events_digest from the events' leaf hashes (hex), in seq order."""
    digest = hashlib.sha256()
    for leaf_hash in leaf_hashes:
        digest.update(bytes.fromhex(leaf_hash))
    return digest.hexdigest()


def record_export(log: AuditLog, selection: Selection, format: str, actor: Mapping[str, Any]) -> Event:
    """Append the `access` event saying who exported which events in which format.

    Exporting is an auditor's access to audit data (PCI DSS 10.2.1.3 wants it logged), and the
    record commits to the exported events (count, first and last seq, digest of their leaf
    hashes): the evidence bundle proves the record's inclusion, so a bundle missing an event or
    carrying an extra one fails verification.
    """
    count, first, last, digest = selection.summary()
    body = {
        "action": "export",
        "format": format,
        "period": selection.period.to_dict(),
        "actor": dict(actor),
        "log_size": selection.last_seq,
        "events": count,
        "first_seq": first,
        "last_seq": last,
        "events_digest": digest,
    }
    draft = EventDraft("access", f"access:export:{uuid.uuid4().hex}", selection.period.repo, None, None, body)
    (seq,) = log.append([draft])
    event = log.get(seq)
    assert event is not None
    return event
