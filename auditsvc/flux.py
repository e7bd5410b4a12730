"""Flux events: what notification-controller reports becomes `deploy` and `drift` events, and
the queries that answer when a commit reached each cluster (and the lead time commit -> push ->
deploy).

A "configured" change at a revision that was already applied to the object means the cluster
was changed outside Git and Flux put it back: that is recorded as `drift`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from auditsvc.audit import Event, EventDraft
from auditsvc.errors import ConfigError

_REVISION = re.compile(
    r"^(?:(?P<ref>.*)@)?sha1:(?P<sha>[0-9a-f]{40})$"  # main@sha1:<sha> (Flux v2.1+)
    r"|^(?:(?P<legacy>.+)/)?(?P<old>[0-9a-f]{40})$"  # main/<sha> (older senders), or a bare sha
)
_APPLIED = re.compile(r"\bconfigured\b")
_REVISION_KEY = "revision"


def parse_revision(revision: str) -> str | None:
    """The commit of a Flux revision: main@sha1:<sha>, sha1:<sha>, legacy main/<sha>; None otherwise
    (a chart version such as 6.5.0, an OCI artifact's latest@sha256:<digest>)."""
    match = _REVISION.match(revision.strip().lower())
    if match is None:
        return None
    return match.group("sha") or match.group("old")


def revision_of(metadata: Mapping[str, Any]) -> str:
    """metadata.revision, or the API-group-prefixed key older controllers send."""
    if isinstance(metadata.get(_REVISION_KEY), str):
        return metadata[_REVISION_KEY]
    for key, value in metadata.items():
        if isinstance(key, str) and key.endswith("/" + _REVISION_KEY) and isinstance(value, str):
            return value
    return ""


def _utc(text: Any) -> str:
    if not isinstance(text, str) or not text:
        raise ConfigError("the event has no timestamp")
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"timestamp {text!r} is not ISO-8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class FluxEvent:
    cluster: str
    kind: str
    namespace: str
    name: str
    revision: str
    reason: str
    severity: str
    message: str
    reported_at: str

    @classmethod
    def from_payload(cls, payload: Any, cluster: str) -> FluxEvent:
        """Read a generic / generic-hmac provider payload; ConfigError naming what is missing."""
        if not isinstance(payload, Mapping):
            raise ConfigError("a Flux event is a JSON object")
        involved = payload.get("involvedObject")
        if not isinstance(involved, Mapping) or not involved.get("kind") or not involved.get("name"):
            raise ConfigError("the event has no involvedObject with kind and name")
        metadata = payload.get("metadata") if isinstance(payload.get("metadata"), Mapping) else {}
        return cls(
            cluster=cluster,
            kind=str(involved["kind"]),
            namespace=str(involved.get("namespace") or ""),
            name=str(involved["name"]),
            revision=revision_of(metadata),
            reason=str(payload.get("reason") or ""),
            severity=str(payload.get("severity") or "info"),
            message=str(payload.get("message") or ""),
            reported_at=_utc(payload.get("timestamp")),
        )

    @property
    def commit(self) -> str | None:
        return parse_revision(self.revision) if self.revision else None

    def draft(self, type_: str, repo: str | None) -> EventDraft:
        return EventDraft(
            type_,
            f"{type_}:{self.cluster}:{self.kind}/{self.namespace}/{self.name}:{self.revision}:{self.reason}:{self.reported_at}",
            repo,
            None,
            self.commit,
            {
                "cluster": self.cluster,
                "object": {"kind": self.kind, "namespace": self.namespace, "name": self.name},
                "revision": self.revision,
                "reason": self.reason,
                "severity": self.severity,
                "message": self.message,
                "reported_at": self.reported_at,
                "source": "flux",
            },
        )


@contextlib.contextmanager
def _read(log: Any) -> Iterator[sqlite3.Connection]:
    from auditsvc.queries import events_file

    conn = sqlite3.connect(f"file:{events_file(log)}?mode=ro", uri=True, timeout=30)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        yield conn
    finally:
        conn.close()


def _events(conn: sqlite3.Connection, where: str, params: Iterable[Any]) -> list[Event]:
    rows = conn.execute(
        f'SELECT seq, type, natural_key, repo, ref, "commit", recorded_at, body, leaf_hash FROM events WHERE {where} ORDER BY seq',
        list(params),
    ).fetchall()
    return [Event(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]), r[8]) for r in rows]


def flux_draft(log: Any, event: FluxEvent, mirrored_repo: Callable[[str], str | None]) -> EventDraft:
    """The deploy (or drift) event for a Flux event; its repo is the one that recorded the commit,
    else the configured repository whose mirror holds it (mirrored_repo)."""
    deploy = event.draft("deploy", None)
    with _read(log) as conn:
        prefix = f"deploy:{event.cluster}:{event.kind}/{event.namespace}/{event.name}:{event.revision}:"
        applied = conn.execute(
            "SELECT 1 FROM events WHERE natural_key >= ? AND natural_key < ? AND natural_key <> ? LIMIT 1",
            [prefix, prefix + "\U0010ffff", deploy.natural_key],  # a resent event is the same deploy
        ).fetchone()
        repo = None
        if event.commit:
            row = conn.execute('SELECT repo FROM events WHERE "commit" = ? AND repo IS NOT NULL LIMIT 1', [event.commit]).fetchone()
            repo = row[0] if row else mirrored_repo(event.commit)
    drift = applied is not None and bool(_APPLIED.search(event.message))
    return event.draft("drift" if drift else "deploy", repo)


# --- queries --------------------------------------------------------------------------------


def deploys(log: Any, commit: str | None = None, cluster: str | None = None) -> list[Event]:
    """Deploy and drift events, oldest first: of one cluster, and/or of one commit (a deploy of a
    push's tip counts for every commit that push brought)."""
    where, params = ["type IN ('deploy', 'drift')"], []
    if cluster:
        where.append("json_extract(body, '$.cluster') = ?")
        params.append(cluster)
    with _read(log) as conn:
        if commit:
            tips = {commit} | {
                row[0]
                for row in conn.execute(
                    "SELECT \"commit\" FROM events WHERE type = 'push' AND \"commit\" IS NOT NULL AND EXISTS "
                    "(SELECT 1 FROM json_each(events.body, '$.commits') WHERE value = ?)",
                    [commit],
                )
            }
            where.append(f'"commit" IN ({",".join("?" * len(tips))})')
            params.extend(sorted(tips))
        return _events(conn, " AND ".join(where), params)


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    parse = lambda text: datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def lead_time(log: Any, commit: str) -> dict[str, Any]:
    """When the commit was made, pushed, and first deployed to each cluster, with the intervals."""
    from auditsvc import queries

    record = queries.show(log, commit)
    committed = min((c.committed_at for c in record.changes if c.committed_at), default=None)
    pushed = min(
        [e.recorded_at for e in record.pushes if e.body.get("accepted")] + [c.pushed_at for c in record.changes if c.pushed_at],
        default=None,
    )
    first: dict[str, Event] = {}
    for event in deploys(log, commit=record.commit):
        if event.type == "deploy" and event.body.get("severity") != "error":
            first.setdefault(event.body["cluster"], event)
    clusters = []
    for cluster, event in sorted(first.items()):
        deployed = event.body.get("reported_at")
        clusters.append(
            {
                "cluster": cluster,
                "deployed_at": deployed,
                "revision": event.body.get("revision"),
                "seq": event.seq,
                "commit_to_push_seconds": _seconds(committed, pushed),
                "push_to_deploy_seconds": _seconds(pushed, deployed),
                "commit_to_deploy_seconds": _seconds(committed, deployed),
            }
        )
    return {"commit": record.commit, "committed_at": committed, "pushed_at": pushed, "clusters": clusters}


def render_deploys(found: Iterable[Event], lead: Mapping[str, Any] | None) -> str:
    lines = []
    for event in found:
        body = event.body
        obj = body.get("object") or {}
        commit = (event.commit or "-")[:12]
        lines.append(
            f"{body.get('reported_at')}  {body.get('cluster')}  {event.type}  {obj.get('kind')}/{obj.get('namespace')}/{obj.get('name')}"
            f"  {commit}  {body.get('message', '').splitlines()[0] if body.get('message') else ''}"
        )
    if not lines:
        lines.append("no deploys recorded")
    if lead:
        lines.append(f"commit {lead['commit'][:12]}: committed {lead['committed_at']}, pushed {lead['pushed_at']}")
        for cluster in lead["clusters"]:
            lines.append(
                f"  {cluster['cluster']}: deployed {cluster['deployed_at']} "
                f"(push -> deploy {cluster['push_to_deploy_seconds']} s, commit -> deploy {cluster['commit_to_deploy_seconds']} s)"
            )
    return "\n".join(lines) + "\n"

