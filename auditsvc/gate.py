"""The path every door calls for a push: check what it changes, decide per ref, record the outcome.

Deciding (pre-receive) and recording what landed (post-receive) are separate
steps, so the log never claims a change that git did not apply.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from auditsvc.audit import EventDraft
from auditsvc.changes import (
    build_changeset,
    commit_infos,
    git,
    is_protected,
    read_blobs,
    resolve,
    resource_changes,
    rev_list,
    rewind_changes,
    tree_changes,
)
from auditsvc.config import Settings
from auditsvc.identity import PushCertificate, Pusher
from auditsvc.manifests import Document, Limits, Source, parse
from auditsvc.model import Changeset, CommitInfo, Finding, Landing, RefUpdate, ResourceChange
from auditsvc.report.findings import finding_dict

if TYPE_CHECKING:  # the check (regopy, jsonschema-rs) is imported only where a push is decided
    from auditsvc.check import Checker

OVERRIDE_OPTION = "override="


@dataclasses.dataclass(frozen=True)
class RefVerdict:
    update: RefUpdate
    protected: bool
    forced: bool
    findings: tuple[Finding, ...]
    commits: tuple[str, ...]  # the commits this update brings to its ref (model.Landing), oldest first
    refusal: str = ""  # refused outright (delete or force push of a protected ref)

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.outcome == "failure")

    @property
    def blocking(self) -> bool:
        return bool(self.refusal) or (self.protected and bool(self.failures))


@dataclasses.dataclass(frozen=True)
class Push:
    """Who pushed what, as the hook saw it."""

    repo: str
    updates: tuple[RefUpdate, ...]
    pusher: Pusher
    options: tuple[str, ...] = ()
    certificate: PushCertificate | None = None

    @property
    def id(self) -> str:
        """Stable for a replay of the same push: replays record nothing new."""
        text = json.dumps(
            [self.repo, [dataclasses.astuple(u) for u in self.updates], self.pusher.name, list(self.options)]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    @property
    def override_reason(self) -> str | None:
        for option in self.options:
            if option.startswith(OVERRIDE_OPTION):
                return option[len(OVERRIDE_OPTION) :].strip() or None
        return None


@dataclasses.dataclass(frozen=True)
class Decision:
    push: Push
    verdicts: tuple[RefVerdict, ...]
    commits: tuple[CommitInfo, ...]
    override_used: bool
    override_refused: str = ""

    @property
    def accepted(self) -> bool:
        blocking = any(v.blocking for v in self.verdicts)
        return not blocking or self.override_used


def decide(settings: Settings, checker: Checker, git_dir: str, push: Push) -> Decision:
    """Evaluate every ref update of a push against schemas, policies and per-ref rules."""
    changeset = build_changeset(git_dir, push.updates, settings.limits, settings.exclude, settings.protected_refs)
    verdicts = [
        _ref_verdict(settings, checker, git_dir, changeset, push, update, landing)
        for update, landing in zip(push.updates, changeset.landings)
    ]
    blocking = any(v.blocking for v in verdicts)
    reason = push.override_reason
    override_used, override_refused = False, ""
    if blocking and reason:
        allowed = list(settings.overrides.get("allowed", []))
        if push.pusher.authenticated and push.pusher.name in allowed:
            override_used = True
        else:
            who = push.pusher.name + ("" if push.pusher.authenticated else " (not authenticated by the Git server)")
            override_refused = f"override requested by {who}, who is not in overrides.allowed"
    return Decision(push, tuple(verdicts), changeset.commits, override_used, override_refused)


def _ref_verdict(
    settings: Settings,
    checker: Checker,
    git_dir: str,
    changeset: Changeset,
    push: Push,
    update: RefUpdate,
    landing: Landing,
) -> RefVerdict:
    """Checks the files and resource changes of the commits the update brings to its ref: for a
    protected ref also commits the repository already had (fast-forwarded onto a warn-only
    branch) and every file its tree changes (a force push back to an older commit brings no
    commit); a warn-only ref is not warned again about commits another ref brought."""
    protected = is_protected(update.ref, settings.protected_refs)
    forced = landing.forced
    if update.is_delete:
        refusal = ""
        if protected and not settings.allow_protected_delete:
            refusal = f"deleting the protected ref {update.ref} is not allowed"
        return RefVerdict(update, protected, False, (), (), refusal)
    brought = set(landing.commits) if protected else set(landing.commits) - set(landing.known)
    files_of: dict[str, list[str]] = {}
    for change in changeset.files:
        if change.commit in brought:
            files_of.setdefault(change.commit, []).append(change.path)
    last_commit = {path: commit for commit in landing.commits for path in files_of.get(commit, ())}
    parents = {info.id: info.parents for info in changeset.commits}
    merges = any(len(parents.get(c, ())) != 1 for c in landing.commits)
    if protected and landing.old and landing.new and (landing.forced or merges):
        # What the ref's tree becomes, whatever the commits' own diffs show: a rewind to an older
        # commit, or a merge taking the other side's files, brings content no commit diff holds.
        # (The diffs of a fast-forward without merges cover every file its tree changes.)
        for change in tree_changes(git_dir, landing.old, landing.new, landing.new, settings.exclude):
            if change.new_blob is not None:
                last_commit.setdefault(change.path, landing.new)
    paths = sorted(last_commit)
    blobs = read_blobs(git_dir, [f"{update.new}:{p}" for p in paths])
    sources = [
        Source(path, data, hashlib.sha256(data).hexdigest()) for path, data in zip(paths, blobs) if data is not None
    ]
    from auditsvc.check import run_check

    result = run_check(checker, sources, workers=1)
    findings = [dataclasses.replace(f, commit=last_commit.get(f.path, "")) for f in result.findings]
    context = {
        "repo": push.repo,
        "ref": update.ref,
        "old": update.old,
        "new": update.new,
        "forced": forced,
        "protected": protected,
        "pusher": _pusher_record(push),
        "options": list(push.options),
    }
    mine = [c for c in changeset.changes if c.commit in brought]
    findings.extend(change_findings(checker, git_dir, mine, changeset.commits, context, settings.limits))
    refusal = ""
    if protected and forced and not settings.allow_protected_force_push:
        refusal = f"force-pushing the protected ref {update.ref} is not allowed (it rewrites history)"
    return RefVerdict(update, protected, forced, tuple(findings), landing.commits, refusal)


def commit_record(info: CommitInfo) -> dict[str, Any]:
    """Who wrote and committed a commit, its subject and signature: as recorded and as policies see it."""
    return {
        "author": {"name": info.author_name, "email": info.author_email, "time": info.author_time},
        "committer": {"name": info.committer_name, "email": info.committer_email, "time": info.committer_time},
        "subject": info.subject,
        "signature": dataclasses.asdict(info.signature),
    }


def change_input(change: ResourceChange, info: CommitInfo, push: Mapping[str, Any]) -> dict[str, Any]:
    """The input of change-aware rules: one resource change, its commit and the push (policies/README.md)."""
    key = change.key
    return {
        "operation": change.op,
        "resource": {"apiVersion": key.api_version, "kind": key.kind, "namespace": key.namespace, "name": key.name},
        "path": change.path,
        "old_path": change.old_path,
        "object": change.after,
        "old_object": change.before,
        "diff": [dataclasses.asdict(d) for d in change.diff],
        "commit": {"id": info.id, "parents": list(info.parents), **commit_record(info)},
        "push": dict(push),
    }


def change_findings(
    checker: Checker,
    git_dir: str,
    changes: Sequence[ResourceChange],
    commits: Sequence[CommitInfo],
    push: Mapping[str, Any],
    limits: Limits,
) -> list[Finding]:
    """Findings of the change-aware rules for each resource change, attributed to its commit."""
    infos = {c.id: c for c in commits}
    findings = []
    for change in changes:
        locate = functools.partial(_locate, git_dir, change, limits)
        found = checker.check_change(change_input(change, infos[change.commit], push), locate)
        findings.extend(dataclasses.replace(f, commit=change.commit) for f in found)
    return findings


def range_change_findings(checker: Checker, git_dir: str, base: str, head: str, settings: Settings) -> list[Finding]:
    """The CI door (check --base/--head): change-aware rules over the range's commits, as if pushed
    in one push of BASE..HEAD by nobody known (input.push.pusher.name is empty)."""
    if checker.change_engine is None:
        return []
    old, new = resolve(git_dir, base), resolve(git_dir, head)
    ids = rev_list(git_dir, [new], [old])
    ref = git(git_dir, "rev-parse", "--symbolic-full-name", head).decode().strip()
    push = {
        "repo": os.path.basename(os.path.abspath(git_dir)),
        "ref": ref,
        "old": old,
        "new": new,
        "forced": False,
        "protected": is_protected(ref, settings.protected_refs),
        "pusher": {"name": "", "authenticated": False, "source": "range"},
        "options": [],
    }
    changes = resource_changes(git_dir, ids, settings.limits, settings.exclude)
    return change_findings(checker, git_dir, changes, commit_infos(git_dir, ids), push, settings.limits)


def _locate(git_dir: str, change: ResourceChange, limits: Limits) -> Document:
    """The changed resource's document, for file:line: after the change, or before it when deleted."""
    spec = f"{change.commit}:{change.path}" if change.after is not None else f"{change.commit}^:{change.path}"
    data = read_blobs(git_dir, [spec])[0]
    if data is not None:
        for document in parse(change.path, data, limits).documents:
            if document.key == change.key:
                return document
    return Document(change.path, 0, 1, change.after if change.after is not None else change.before)


def _pusher_record(push: Push) -> dict[str, Any]:
    record: dict[str, Any] = dataclasses.asdict(push.pusher)
    if push.certificate is not None:
        record["certificate"] = dataclasses.asdict(push.certificate)
    return record


def decision_events(decision: Decision, provenance: Mapping[str, Any]) -> list[EventDraft]:
    """A push event per ref update (accepted or rejected, with findings) and the override, if any."""
    push = decision.push
    events = []
    for verdict in decision.verdicts:
        update = verdict.update
        events.append(
            EventDraft(
                "push",
                f"push:{push.repo}:{push.id}:{update.ref}",
                push.repo,
                update.ref,
                None if update.is_delete else update.new,
                {
                    "old": update.old,
                    "new": update.new,
                    "forced": verdict.forced,
                    "protected": verdict.protected,
                    "accepted": decision.accepted,
                    "refusal": verdict.refusal,
                    "findings": [finding_dict(f) for f in verdict.findings if f.outcome != "warning" or verdict.protected],
                    "commits": list(verdict.commits),
                    "push_options": list(push.options),
                    "pusher": _pusher_record(push),
                    **provenance,
                },
            )
        )
    if decision.override_used:
        overridden = [finding_dict(f) for v in decision.verdicts for f in v.failures]
        events.append(
            EventDraft(
                "override",
                f"override:{push.repo}:{push.id}",
                push.repo,
                None,
                None,
                {
                    "reason": push.override_reason,
                    "pusher": _pusher_record(push),
                    "refs": [v.update.ref for v in decision.verdicts if v.blocking],
                    "refusals": [v.refusal for v in decision.verdicts if v.refusal],
                    "overridden": overridden,
                },
            )
        )
    return events


def change_events(
    git_dir: str,
    repo: str,
    refs_of: Mapping[str, str],
    pusher: Mapping[str, Any],
    settings: Settings,
    put_content: Any,
    pushed_at: str | None = None,
) -> list[EventDraft]:
    """A change event per resource per commit, keyed by commit: replays and re-imports add nothing.

    refs_of maps the commits to record (oldest first) to the ref that brought them; pushed_at
    (RFC 3339 UTC) is when the push landed, None for imported history.
    """
    ids = list(refs_of)
    if not ids:
        return []
    infos = {c.id: c for c in commit_infos(git_dir, ids)}
    return [
        _change_event(f"change:{repo}:{change.commit}", repo, refs_of[change.commit], change,
                      commit_record(infos[change.commit]), pusher, put_content, pushed_at)
        for change in resource_changes(git_dir, ids, settings.limits, settings.exclude)
    ]


def landing_events(
    git_dir: str,
    repo: str,
    landed: Sequence[Landing],
    pusher: Mapping[str, Any],
    settings: Settings,
    put_content: Any,
    pushed_at: str | None,
) -> list[EventDraft]:
    """The change events of a push that landed: per ref update, what it brought to its ref.

    A commit new to the repository is recorded under the first ref that brings it, keyed by
    commit as `change_events` (and so `auditsvc import`) keys it. A commit on the first-parent
    line of another updated ref (a fast-forward onto commits the repository had, or one push
    moving two existing refs) is recorded again under that ref, keyed by ref, old..new and
    commit; a merge brings the rest (its first-parent diff holds them). A rewinding update first
    records the resources it takes back to the base (keyed by ref, old..new and `rewind`,
    labelled with the new tip), so the ref's changes end in the tree it points to. Keys name the
    ref update, not the push's time: a hook replay, a host's webhook retry and a push seen by
    both a hook and a webhook record it once.
    """
    first_ref: dict[str, str] = {}
    for landing in landed:
        for commit in landing.commits:
            if commit not in landing.known:
                first_ref.setdefault(commit, landing.ref)
    ids = list(dict.fromkeys(c for landing in landed for c in landing.commits))
    infos = {c.id: c for c in commit_infos(git_dir, ids)}
    changes_of: dict[str, list[ResourceChange]] = {}
    for change in resource_changes(git_dir, ids, settings.limits, settings.exclude):
        changes_of.setdefault(change.commit, []).append(change)
    events = []
    for landing in landed:
        landed_on = f"change:{repo}:{landing.ref}:{landing.old}..{landing.new}"
        if landing.rewinds:
            rewind = {
                "subject": f"force-push rewind of {landing.ref} from {landing.old} to {landing.base}",
                "rewind": {"old": landing.old, "base": landing.base},
            }
            prefix = f"{landed_on}:rewind"
            events.extend(
                _change_event(prefix, repo, landing.ref, change, rewind, pusher, put_content, pushed_at)
                for change in rewind_changes(git_dir, landing, settings.limits, settings.exclude)
            )
        # A created ref records only what no other ref of the push brought (see Limits): its
        # mainline steps matter once it exists.
        mainline = set(landing.mainline) if landing.old else set(landing.mainline) & set(landing.known)
        for commit in landing.commits:
            if first_ref.get(commit) == landing.ref:
                prefix = f"change:{repo}:{commit}"
            elif commit in mainline:
                prefix = f"{landed_on}:{commit}"
            else:
                continue  # merged in from another ref: the merge's own change holds it
            record = commit_record(infos[commit])
            events.extend(
                _change_event(prefix, repo, landing.ref, change, record, pusher, put_content, pushed_at)
                for change in changes_of.get(commit, ())
            )
    return events


def _change_event(
    prefix: str,
    repo: str,
    ref: str | None,
    change: ResourceChange,
    record: Mapping[str, Any],
    pusher: Mapping[str, Any],
    put_content: Any,
    pushed_at: str | None,
) -> EventDraft:
    """One change event; its natural key is prefix:path:apiVersion/kind/namespace/name."""
    key = change.key
    return EventDraft(
        "change",
        f"{prefix}:{change.path}:{key.api_version}/{key.kind}/{key.namespace}/{key.name}",
        repo,
        ref,
        change.commit,
        {
            "op": change.op,
            "path": change.path,
            "old_path": change.old_path,
            "resource": {"apiVersion": key.api_version, "kind": key.kind, "namespace": key.namespace, "name": key.name},
            "before": put_content(change.before) if change.before is not None else None,
            "after": put_content(change.after) if change.after is not None else None,
            "diff": [dataclasses.asdict(d) for d in change.diff],
            **record,
            "pusher": dict(pusher),
            **({"pushed_at": pushed_at} if pushed_at else {}),
        },
    )
