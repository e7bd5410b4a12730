"""The population list: one row per change, traced to who, approval, checks, deploy and rollback.

Each change event of the period gets, from the rest of the log (looked up a page of changes at a
time, so memory stays bounded however long the period):

- its policy verdict: from the push event(s) that brought its commit (as their tip or among
  their `commits`; the query index maps the latter), those of its ref first, and that push's findings for the change's
  file, or, for changes seen by a webhook (no push decision), the violation events of its
  commit and file; imported history was never checked;
- the override of that push (its stated reason), if one was used;
- the first deploy per cluster: the earliest deploy event reporting the change's commit or
  the tip of the push that brought it (a revision Flux skipped past is not traced further);
- the rollback reference: the first later change of the same resource, repo and ref that
  brought back a version from before this change (queries' rollback index).
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from auditsvc import queries
from auditsvc.audit import Event
from auditsvc.export.selection import Selection

_PAGE = 500
NOT_CHECKED = "not checked (imported)"
SIGNATURES = {
    "G": "good", "B": "bad", "U": "good, unknown validity", "X": "good, expired", "Y": "good, expired key",
    "R": "good, revoked key", "E": "cannot be checked", "N": "none",
}


@dataclasses.dataclass(frozen=True)
class Deploy:
    cluster: str
    reported_at: str
    revision: str


@dataclasses.dataclass(frozen=True)
class ChangeRow:
    """A change event and what the log says about its approval, checks, deploy and rollback."""

    event: Event
    verdict: str
    findings: tuple[dict[str, Any], ...]
    push: Event | None
    override: Event | None
    violations: tuple[Event, ...]
    deploys: tuple[Deploy, ...]  # the first per cluster, by cluster
    rollback: tuple[int, str] | None  # (seq, commit) of the change that restored the previous contents

    @property
    def body(self) -> dict[str, Any]:
        return self.event.body

    @property
    def imported(self) -> bool:
        return (self.body.get("pusher") or {}).get("source") == "import"

    @property
    def resource_label(self) -> str:
        return queries.resource_label(self.body.get("resource") or {})

    @property
    def pushed_at(self) -> str | None:
        return None if self.imported else self.event.recorded_at

    @property
    def failed(self) -> bool:
        return self.verdict.startswith("failed")


def annotate(selection: Selection, events: Iterable[Event]) -> Iterator[tuple[Event, ChangeRow | None]]:
    """Every event, in order, with its ChangeRow when it is a change."""
    queries.refresh_index(selection.log)  # maps the commits a push brought besides its tip
    page: list[Event] = []
    for event in events:
        page.append(event)
        if len(page) >= _PAGE:
            yield from _annotate_page(selection, page)
            page = []
    yield from _annotate_page(selection, page)


def change_rows(selection: Selection) -> Iterator[ChangeRow]:
    for _, row in annotate(selection, (e for e in selection.events() if e.type == "change")):
        assert row is not None
        yield row


def _events(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Event]:
    return [queries._event(row) for row in db.execute(sql, list(params))]


_COLUMNS = 'e.seq, e.type, e.natural_key, e.repo, e.ref, e."commit", e.recorded_at, e.body, e.leaf_hash'


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _annotate_page(selection: Selection, page: list[Event]) -> Iterator[tuple[Event, ChangeRow | None]]:
    changes = [e for e in page if e.type == "change"]
    if not changes:
        yield from ((e, None) for e in page)
        return
    db = selection.db
    commits = sorted({e.commit for e in changes if e.commit})
    pushes = _events(
        db,
        f"SELECT {_COLUMNS} FROM events e WHERE e.type = 'push' AND e.\"commit\" IN ({_marks(commits)}) "
        f"UNION SELECT {_COLUMNS} FROM change_index_commits c JOIN events e ON e.seq = c.seq "
        f"WHERE c.\"commit\" IN ({_marks(commits)}) ORDER BY 1",
        [*commits, *commits],
    )
    brought: dict[tuple[str | None, str], list[Event]] = {}
    for push in pushes:
        for commit in {push.commit, *(push.body.get("commits") or [])}:
            brought.setdefault((push.repo, commit), []).append(push)
    override_keys = sorted({key for push in pushes if (key := _override_key(push))})
    overrides = {
        e.natural_key: e
        for e in _events(db, f"SELECT {_COLUMNS} FROM events e WHERE e.natural_key IN ({_marks(override_keys)})", override_keys)
    }
    violations: dict[tuple[str | None, str | None, str], list[Event]] = {}
    for event in _events(db, f"SELECT {_COLUMNS} FROM events e WHERE e.type = 'violation' AND e.\"commit\" IN ({_marks(commits)})", commits):
        violations.setdefault((event.repo, event.commit, event.body.get("path", "")), []).append(event)
    tips = sorted({p.commit for p in pushes if p.commit} | set(commits))
    deploys: dict[str, list[Event]] = {}
    for event in _events(db, f"SELECT {_COLUMNS} FROM events e WHERE e.type = 'deploy' AND e.\"commit\" IN ({_marks(tips)})", tips):
        deploys.setdefault(event.commit or "", []).append(event)
    restored = _rolled_back_by(db, changes)
    for event in page:
        if event.type != "change":
            yield event, None
            continue
        landed = _landing_push(event, brought.get((event.repo, event.commit or ""), []))
        override = overrides.get(_override_key(landed) or "") if landed else None
        seen = tuple(violations.get((event.repo, event.commit, event.body.get("path", "")), []))
        findings = _findings_of(event, landed)
        row_deploys = _first_deploys(event, [*deploys.get(event.commit or "", []), *(deploys.get(landed.commit or "", []) if landed else [])])
        yield event, ChangeRow(
            event=event,
            verdict=_verdict(event, landed, findings, override, seen),
            findings=findings,
            push=landed,
            override=override,
            violations=seen,
            deploys=row_deploys,
            rollback=restored.get(event.seq),
        )


def _override_key(push: Event) -> str | None:
    push_id = queries._push_id(push)
    return f"override:{push.repo}:{push_id}" if push_id else None


def _landing_push(change: Event, pushes: list[Event]) -> Event | None:
    """The push decision under which the change landed: the last accepted one recorded before it,
    of the change's ref if one is (a commit can land on several refs, each judged for its ref)."""
    before = [p for p in pushes if p.seq < change.seq]
    before = [p for p in before if p.ref == change.ref] or before
    accepted = [p for p in before if p.body.get("accepted")]
    return (accepted or before or [None])[-1]


def _findings_of(change: Event, push: Event | None) -> tuple[dict[str, Any], ...]:
    """The push's findings for this change's file in this commit (failures and warnings)."""
    if push is None:
        return ()
    path = change.body.get("path")
    return tuple(
        f for f in push.body.get("findings") or []
        if f.get("path") == path and f.get("commit") in (change.commit, "", None) and f.get("outcome") in ("failure", "warning")
    )


def _verdict(
    change: Event, push: Event | None, findings: Sequence[dict[str, Any]], override: Event | None, violations: Sequence[Event]
) -> str:
    if (change.body.get("pusher") or {}).get("source") == "import":
        return NOT_CHECKED
    if push is None:
        if violations:
            return "failed (landed without passing; violation recorded)"
        return "passed (checked after landing)"
    if "failure" in push.body:
        return f"not checked (the check failed open: {push.body['failure']})"
    failures = [f for f in findings if f.get("outcome") == "failure"]
    if failures or push.body.get("refusal"):
        if override is not None:
            return "failed, overridden"
        return "failed, landed (ref not protected)" if push.body.get("accepted") else "failed, refused"
    if findings:
        return "passed with warnings"
    return "passed"


def _first_deploys(change: Event, deploys: Iterable[Event]) -> tuple[Deploy, ...]:
    first: dict[str, Deploy] = {}
    for event in deploys:
        if event.repo not in (None, change.repo):
            continue
        body = event.body
        cluster, when = str(body.get("cluster") or "?"), str(body.get("reported_at") or event.recorded_at)
        if cluster not in first or when < first[cluster].reported_at:
            first[cluster] = Deploy(cluster, when, str(body.get("revision") or event.commit or ""))
    return tuple(first[c] for c in sorted(first))


def _rolled_back_by(db: sqlite3.Connection, changes: Sequence[Event]) -> dict[int, tuple[int, str]]:
    """Per change seq, (seq, commit) of the first later change of the same resource, repo and ref
    that brought back a version from before it, as the query index records it (rolled_back_by)."""
    seqs = [c.seq for c in changes]
    rows = db.execute(
        f'SELECT c.seq, r.seq, r."commit" FROM change_index c JOIN events r ON r.seq = c.rolled_back_by '
        f"WHERE c.seq IN ({_marks(seqs)})",
        seqs,
    )
    return {seq: (by_seq, commit) for seq, by_seq, commit in rows}
