"""Record mode: a push the Git host already accepted, judged and recorded as the hook would.

Hosted Git runs no pre-receive hook, so the webhook receiver learns of a push after it landed.
The same pipeline runs on a local mirror (auditsvc.mirror): the push decision (accepted: it
landed), a change event per resource per commit, and a violation event for every change that
failed policy. Payload commit lists are never used: the commits come from git.

`python -m auditsvc.record` records one queued delivery in a fresh process (the service's
worker runs it so): the Rego engine can abort the process evaluating it, and a fresh
interpreter inherits no lock another thread of the server held.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from auditsvc import mirror
from auditsvc.audit import EventDraft, open_log
from auditsvc.config import Settings
from auditsvc.errors import AuditsvcError, ConfigError
from auditsvc.identity import Pusher
from auditsvc.model import RefUpdate, ResourceKey
from auditsvc.report.findings import finding_dict


@dataclasses.dataclass(frozen=True)
class HostedPush:
    """One ref update a Git host reports, with the pusher as the host names them."""

    source: str  # github, gitlab, gitea
    repo: str  # the name under `repositories` in the config
    update: RefUpdate
    pusher: Pusher
    pushed_at: str | None = None  # when the host reported it (RFC 3339 UTC)

    @property
    def pusher_record(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self.pusher), "reported_by": self.source}


def record_push(settings: Settings, hosted: HostedPush) -> dict[str, Any]:
    """Judge and record one hosted push; returns counts of what was recorded.

    Runs git with the quarantine in this process's environment: call it in a child process.
    """
    from auditsvc.changes import crd_sources, landings
    from auditsvc.check import Checker, find_crds
    from auditsvc.gate import Push, decide, decision_events, landing_events

    config = settings.repositories.get(hosted.repo)
    if not isinstance(config, Mapping) or not config.get("url"):
        raise ConfigError(f"repositories.{hosted.repo}.url is not configured: the service cannot fetch it")
    update = hosted.update
    with mirror.incoming(settings.service_dir, hosted.repo, str(config["url"])) as (git_dir, env):
        os.environ.update(env)
        try:
            crds = [] if update.is_delete else find_crds(crd_sources(git_dir, update.new), settings.limits)
            checker = Checker.from_settings(settings, crds=crds)
            decision = decide(settings, checker, git_dir, Push(hosted.repo, (update,), hosted.pusher))
            pusher = hosted.pusher_record
            pushes = [_landed(draft, pusher) for draft in decision_events(decision, checker.provenance())]
            with open_log(settings.db) as log:
                landed = landings(git_dir, [update], settings.protected_refs)
                changes = landing_events(git_dir, hosted.repo, landed, pusher, settings, log.put_content, hosted.pushed_at)
                failures = [f for verdict in decision.verdicts for f in verdict.failures]
                violations = violation_events(hosted, changes, failures)
                seqs = log.append([*pushes, *changes, *violations])
                log.checkpoint(hosted.repo)
            mirror.land(git_dir, env, update)
        finally:
            for name in env:
                os.environ.pop(name, None)
    return {"events": len(set(seqs)), "changes": len(changes), "violations": len(violations)}


def _landed(draft: EventDraft, pusher: Mapping[str, Any]) -> EventDraft:
    """A push event as a webhook sees it: it landed, whatever the findings say."""
    if draft.type != "push":
        return draft
    return dataclasses.replace(draft, body={**draft.body, "accepted": True, "pusher": dict(pusher)})


def violation_events(hosted: HostedPush, changes: Sequence[EventDraft], failures: Sequence[Any]) -> list[EventDraft]:
    """A violation per recorded change whose file, at that commit, has failing findings about it."""
    by_file: dict[tuple[str, str], list[Any]] = {}
    for finding in failures:
        by_file.setdefault((finding.commit, finding.path), []).append(finding)
    events = []
    for change in changes:
        found = by_file.get((change.commit or "", change.body["path"]))
        if not found:
            continue
        resource = change.body["resource"]
        label = str(ResourceKey(resource["apiVersion"], resource["kind"], resource["namespace"], resource["name"]))
        mine = [f for f in found if not f.resource or f.resource == label]
        if not mine:
            continue
        events.append(
            EventDraft(
                "violation",
                "violation:" + change.natural_key.removeprefix("change:"),  # per ref where the change is
                hosted.repo,
                change.ref,
                change.commit,
                {
                    "path": change.body["path"],
                    "resource": dict(resource),
                    "findings": [finding_dict(f) for f in mine],
                    "pusher": hosted.pusher_record,
                    "source": hosted.source,
                },
            )
        )
    return events


def hosted_push(job: Mapping[str, Any]) -> HostedPush:
    """The push a queued job (webhooks.push_job) describes."""
    pusher = job["pusher"]
    return HostedPush(
        job["source"],
        job["repo"],
        RefUpdate(job["old"], job["new"], job["ref"]),
        Pusher(pusher["name"], job["source"], False, pusher.get("email", ""), pusher.get("id", "")),
        job.get("pushed_at"),
    )


def _settings(values: Mapping[str, Any]) -> Settings:
    """The worker's Settings, from dataclasses.asdict sent as JSON (lists back to tuples)."""
    defaults = Settings()
    return Settings(**{k: tuple(v) if isinstance(getattr(defaults, k), tuple) else v for k, v in values.items()})


def main() -> None:
    """stdin: {"settings": asdict(Settings), "job": {...}}; the last stdout line: the counts or
    {"failure": why} (the Rego engine may print compile errors on stdout before it)."""
    request = json.load(sys.stdin)
    try:
        result = record_push(_settings(request["settings"]), hosted_push(request["job"]))
    except AuditsvcError as err:
        result = {"failure": str(err)}
    except Exception as err:  # noqa: BLE001 - one line for the worker's log, never a traceback
        result = {"failure": f"internal error: {type(err).__name__}: {err}"}
    print("\n" + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

