"""The HTML report: one self-contained, printable page for people (no scripts, no external files).

One pass over the period's events gathers counts and the exceptions an auditor reads first
(overrides, violations that landed, drift); long lists stop at MAX_ROWS and say how many more
the CSV and JSONL exports hold. Memory: the counts, those capped lists, and one number per
deployed change for the lead-time percentiles.
"""

from __future__ import annotations

import array
import collections
import dataclasses
import datetime
import html
from collections.abc import Iterator

from auditsvc.audit import AuditLog, Event
from auditsvc.export.population import ChangeRow, annotate
from auditsvc.export.selection import Selection
from auditsvc.export.tables import finding_text, person, pusher_text

MAX_ROWS = 1000


@dataclasses.dataclass
class _Table:
    """Rows of one section, kept up to MAX_ROWS; `total` counts them all."""

    rows: list[list[str]] = dataclasses.field(default_factory=list)
    total: int = 0

    def add(self, row: list[str]) -> None:
        self.total += 1
        if len(self.rows) < MAX_ROWS:
            self.rows.append(row)


@dataclasses.dataclass
class Summary:
    types: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    verdicts: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    by_repo: dict[str, collections.Counter] = dataclasses.field(default_factory=dict)
    by_cluster: dict[str, collections.Counter] = dataclasses.field(default_factory=dict)
    lead_times: dict[str, array.array] = dataclasses.field(default_factory=dict)
    pushes_refused: int = 0
    overrides: _Table = dataclasses.field(default_factory=_Table)
    violations: _Table = dataclasses.field(default_factory=_Table)
    drift: _Table = dataclasses.field(default_factory=_Table)

    def add(self, event: Event, row: ChangeRow | None) -> None:
        self.types[event.type] += 1
        body = event.body
        if event.type == "push" and not body.get("accepted"):
            self.pushes_refused += 1
        elif event.type == "override":
            pusher = body.get("pusher") or {}
            overridden = "; ".join(finding_text(f) for f in body.get("overridden") or []) or "; ".join(body.get("refusals") or [])
            self.overrides.add([str(event.seq), _time(event.recorded_at), event.repo or "", ", ".join(body.get("refs") or []),
                                str(pusher.get("name") or "?"), str(body.get("reason") or ""), overridden])
        elif event.type == "violation":
            findings = "; ".join(finding_text(f) for f in body.get("findings") or [])
            self.violations.add([str(event.seq), _time(event.recorded_at), event.repo or "", (event.commit or "")[:12],
                                 str(body.get("path") or ""), str((body.get("pusher") or {}).get("name") or "?"), findings])
        elif event.type in ("deploy", "drift"):
            cluster = str(body.get("cluster") or "?")
            self.by_cluster.setdefault(cluster, collections.Counter())[event.type] += 1
            if event.type == "drift":
                target = body.get("object") or {}
                self.drift.add([str(event.seq), _time(str(body.get("reported_at") or event.recorded_at)), cluster,
                                f"{target.get('kind')}/{target.get('namespace')}/{target.get('name')}",
                                str(body.get("revision") or ""), str(body.get("message") or "")])
        if row is not None:
            self._add_change(row)

    def _add_change(self, row: ChangeRow) -> None:
        event = row.event
        self.verdicts[row.verdict] += 1
        counts = self.by_repo.setdefault(event.repo or "-", collections.Counter())
        counts["changes"] += 1
        counts["failed"] += row.failed
        counts["overridden"] += row.override is not None
        counts["imported"] += row.imported
        if row.failed and not row.violations and row.verdict != "failed, refused":
            self.violations.add([str(event.seq), _time(event.recorded_at), event.repo or "", (event.commit or "")[:12],
                                 str(row.body.get("path") or ""), pusher_text(row),
                                 f"{row.verdict}: " + "; ".join(finding_text(f) for f in row.findings)])
        pushed = _moment(row.pushed_at)
        for deploy in row.deploys:
            self.by_cluster.setdefault(deploy.cluster, collections.Counter())["changes deployed"] += 1
            deployed = _moment(deploy.reported_at)
            if pushed is not None and deployed is not None:
                lead = max(0.0, (deployed - pushed).total_seconds())
                self.lead_times.setdefault(deploy.cluster, array.array("d")).append(lead)


def _moment(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


def _time(text: str) -> str:
    """To the second, for people."""
    return text[:19] + "Z" if len(text) > 20 and text[10] == "T" and text.endswith("Z") else text


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(round(fraction * (len(values) - 1))))]


def html_chunks(log: AuditLog, selection: Selection, record: Event) -> Iterator[bytes]:
    summary = Summary()
    for event, row in annotate(selection, selection.events()):
        summary.add(event, row)
    verification = log.verify()
    yield render(summary, selection, record, str(verification), verification.ok).encode("utf-8")


_CSS = """
body { font: 11pt/1.4 "DejaVu Sans", Arial, sans-serif; margin: 2em auto; max-width: 70em; color: #111; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; } th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; }
th { background: #eee; white-space: nowrap; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #0a5c0a; font-weight: bold; } .bad { color: #a00; font-weight: bold; } .meta { color: #444; }
.cards { display: flex; flex-wrap: wrap; gap: 0.6em; } .card { border: 1px solid #bbb; padding: 0.4em 0.8em; min-width: 8em; }
.card b { display: block; font-size: 1.5em; } .more { color: #444; font-style: italic; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


def _table(headers: list[str], rows: list[list[str]], numeric: frozenset[int] | set[int] = frozenset()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{html.escape(str(v))}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(title: str, anchor: str, table: _Table, headers: list[str], empty: str) -> str:
    if not table.total:
        return f'<h2 id="{anchor}">{html.escape(title)} (0)</h2><p>{html.escape(empty)}</p>'
    more = table.total - len(table.rows)
    note = f'<p class="more">{more} more not shown: the CSV and JSONL exports hold them all.</p>' if more else ""
    return f'<h2 id="{anchor}">{html.escape(title)} ({table.total})</h2>{_table(headers, table.rows)}{note}'


def render(summary: Summary, selection: Selection, record: Event, verification: str, verified: bool) -> str:
    period = selection.period
    actor = record.body.get("actor") or {}
    changes = summary.types["change"]
    cards = [
        ("events", sum(summary.types.values())), ("changes", changes), ("pushes", summary.types["push"]),
        ("pushes refused", summary.pushes_refused), ("overrides", summary.overrides.total),
        ("violations landed", summary.violations.total), ("deploys", summary.types["deploy"]), ("drift", summary.drift.total),
    ]
    repo_rows = [
        [repo, str(c["changes"]), str(c["failed"]), str(c["overridden"]), str(c["imported"])]
        for repo, c in sorted(summary.by_repo.items())
    ]
    cluster_rows = [
        [cluster, str(c["deploy"]), str(c["changes deployed"]), str(c["drift"])] for cluster, c in sorted(summary.by_cluster.items())
    ]
    lead_rows = []
    for cluster, values in sorted(summary.lead_times.items()):
        ordered = sorted(values)
        lead_rows.append([cluster, str(len(ordered)), _duration(_percentile(ordered, 0.5)), _duration(_percentile(ordered, 0.9)), _duration(ordered[-1])])
    verdict_rows = [[verdict, str(count)] for verdict, count in summary.verdicts.most_common()]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Change audit report {html.escape(_time(period.start))} to {html.escape(_time(period.end))}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Change audit report</h1>",
        f'<p class="meta">Changes recorded from <b>{html.escape(_time(period.start))}</b> to <b>{html.escape(_time(period.end))}</b>'
        f"{' in repository <b>' + html.escape(period.repo) + '</b>' if period.repo else ', all repositories'}. "
        f"Exported {html.escape(_time(record.recorded_at))} by {html.escape(person(actor) or str(actor.get('name') or '?'))}; "
        f"the export is recorded in the audit log as event {record.seq}.</p>",
        '<h2 id="verification">Verification</h2>',
        f'<p class="{"ok" if verified else "bad"}">{html.escape(verification)}</p>',
        "<p>Every event's leaf hash was recomputed from its contents and the Merkle tree checked against every signed "
        "checkpoint. For evidence that verifies without trusting this system, take the evidence bundle "
        "(<code>auditsvc export --format bundle</code>) and run <code>auditsvc verify-bundle</code>.</p>",
        '<h2 id="summary">Summary</h2><div class="cards">'
        + "".join(f'<div class="card"><b>{n}</b>{html.escape(label)}</div>' for label, n in cards)
        + "</div>",
        _section("Overrides (break-glass) with their reasons", "overrides", summary.overrides,
                 ["seq", "time", "repository", "refs", "by", "reason", "what was overridden"], "No override was used."),
        _section("Violations that landed", "violations", summary.violations,
                 ["seq", "time", "repository", "commit", "file", "pushed by", "findings"], "No change landed without passing."),
        "<h2 id=\"verdicts\">Policy verdicts of the changes</h2>",
        _table(["verdict", "changes"], verdict_rows, {1}) if verdict_rows else "<p>No changes in the period.</p>",
        '<h2 id="repos">Changes by repository</h2>',
        _table(["repository", "changes", "failed policy", "overridden", "imported (not checked)"], repo_rows, {1, 2, 3, 4})
        if repo_rows else "<p>No changes in the period.</p>",
        '<h2 id="clusters">Deploys and drift by cluster</h2>',
        _table(["cluster", "deploy events", "changes deployed", "drift events"], cluster_rows, {1, 2, 3})
        if cluster_rows else "<p>No deploy or drift events in the period.</p>",
        '<h2 id="lead-times">Deploy lead times (push to first deploy)</h2>',
        _table(["cluster", "changes", "median", "90th percentile", "longest"], lead_rows, {1, 2, 3, 4})
        if lead_rows else "<p>No pushed change has a recorded deploy.</p>",
        _section("Drift (cluster changed outside Git)", "drift", summary.drift,
                 ["seq", "reported", "cluster", "object", "revision", "message"], "No drift was reported."),
        "</body></html>\n",
    ]
    return "\n".join(parts)
