"""The pre-receive and post-receive protocol: ref lines and environment in, messages and exit code out.

The work runs in a forked child with the configured time budget, so a policy
engine crash, a hung store or an exception ends as a clear message under the
configured fail mode; the pusher never sees a traceback.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from auditsvc.config import Settings
from auditsvc.errors import AuditsvcError
from auditsvc.identity import push_certificate, push_options, pusher_from_env, repository_name
from auditsvc.model import RefUpdate
from auditsvc.spool import backlog_warning

PREFIX = "auditsvc: "
BACKLOG_WARNING_SECONDS = 60  # a recorder normally finishes within seconds of the push


def read_updates(stream: TextIO) -> list[RefUpdate]:
    return [RefUpdate.parse(line) for line in stream.read().splitlines() if line.strip()]


def run_in_child(work: Callable[[], dict[str, Any]], timeout: float) -> dict[str, Any]:
    """Run `work` in a forked child; its JSON-able result, or {"failure": why} on timeout, crash or error."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        code = 0
        try:
            result = work()
        except AuditsvcError as err:
            result = {"failure": str(err)}
        except Exception as err:  # noqa: BLE001 - reported to the pusher as one line, never a traceback
            result = {"failure": f"internal error: {type(err).__name__}: {err}"}
        try:
            os.write(write_end, json.dumps(result).encode())
        except Exception:  # noqa: BLE001
            code = 70
        os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    with os.fdopen(read_end, "rb", buffering=0) as reader:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return {"failure": f"time budget of {timeout:g} s ran out"}
            ready, _, _ = select.select([reader], [], [], remaining)
            if not ready:
                continue
            chunk = reader.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"failure": f"the check crashed ({signal.Signals(os.WTERMSIG(status)).name})"}
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return {"failure": "the check ended without a result"}


def _pre_receive_work(settings: Settings, git_dir: str, env: Mapping[str, str], updates: list[RefUpdate]) -> dict[str, Any]:
    from auditsvc.audit import open_log
    from auditsvc.changes import crd_sources
    from auditsvc.check import Checker, find_crds
    from auditsvc.gate import Push, decide, decision_events

    push = Push(
        repository_name(env, git_dir),
        tuple(updates),
        pusher_from_env(env, settings.pusher_variable),
        push_options(env),
        push_certificate(env),
    )
    crds = [crd for u in updates if not u.is_delete for crd in find_crds(crd_sources(git_dir, u.new), settings.limits)]
    checker = Checker.from_settings(settings, crds=crds)
    decision = decide(settings, checker, git_dir, push)
    with open_log(settings.db) as log:
        log.append(decision_events(decision, checker.provenance()))
        if not decision.accepted:
            log.checkpoint(push.repo)  # nothing else will be recorded for this push
    return {"accepted": decision.accepted, "messages": render_decision(decision, settings)}


def render_decision(decision: Any, settings: Settings) -> list[str]:
    """The remote: lines a pusher sees: ref, commit, file:line, rule, and what to do."""
    lines: list[str] = []
    for verdict in decision.verdicts:
        ref = verdict.update.ref
        shown = [f for f in verdict.findings if f.outcome in ("failure", "warning")]
        if not verdict.refusal and not shown:
            continue
        mode = "enforced" if verdict.protected else "warn-only"
        state = "REFUSED" if verdict.blocking and not decision.override_used else "accepted"
        lines.append(f"{PREFIX}{ref} ({mode}): {state}")
        if verdict.refusal:
            lines.append(f"{PREFIX}  {verdict.refusal}")
        for finding in shown:
            label = "FAIL" if finding.outcome == "failure" else "WARN"
            commit = f" [commit {finding.commit[:12]}]" if finding.commit else ""
            subject = f"{finding.resource}: " if finding.resource else ""
            lines.append(f"{PREFIX}  {label} {finding.location}{commit} {finding.rule}: {subject}{finding.message}")
    if decision.override_used:
        lines.append(f"{PREFIX}OVERRIDE by {decision.push.pusher.name}: {decision.push.override_reason} (recorded)")
    elif not decision.accepted:
        if decision.override_refused:
            lines.append(f"{PREFIX}{decision.override_refused}")
        lines.append(f"{PREFIX}push refused: fix the findings above and push again.")
        allowed = ", ".join(settings.overrides.get("allowed", [])) or "nobody (overrides.allowed is empty)"
        lines.append(
            f'{PREFIX}in an emergency, one of: {allowed} may push with  git push -o override="INC-123: reason"'
        )
    return lines


def pre_receive(settings: Settings, env: Mapping[str, str], stdin: TextIO, out: TextIO) -> int:
    git_dir = env.get("GIT_DIR", ".")
    try:
        updates = read_updates(stdin)
    except ValueError as err:
        print(f"{PREFIX}cannot read the ref updates: {err}", file=out)
        return 1
    result = run_in_child(lambda: _pre_receive_work(settings, git_dir, env, updates), settings.time_budget_seconds)
    if "failure" in result:
        return _fail(settings, env, git_dir, updates, result["failure"], out)
    for line in result["messages"]:
        print(line, file=out)
    backlog = backlog_warning(git_dir, BACKLOG_WARNING_SECONDS)
    if backlog:
        print(f"{PREFIX}WARNING: {backlog}", file=out)
    return 0 if result["accepted"] else 1


def _fail(settings: Settings, env: Mapping[str, str], git_dir: str, updates: list[RefUpdate], why: str, out: TextIO) -> int:
    """The configured fail mode, recorded where the store still works."""
    closed = settings.fail_mode == "closed"
    verdict = "push refused (fail_mode: closed)" if closed else "push accepted unchecked (fail_mode: open)"
    print(f"{PREFIX}could not check this push: {why}", file=out)
    print(f"{PREFIX}{verdict}; ask the platform team to look at the auditsvc logs", file=out)
    repo = repository_name(env, git_dir)
    pusher = pusher_from_env(env, settings.pusher_variable)

    def record() -> dict[str, Any]:
        from auditsvc.audit import EventDraft, open_log

        key = json.dumps([[u.old, u.new, u.ref] for u in updates])
        with open_log(settings.db) as log:
            log.append(
                [
                    EventDraft(
                        "push",
                        f"push-failure:{repo}:{u.ref}:{u.new}:{why}:{key}",
                        repo,
                        u.ref,
                        None if u.is_delete else u.new,
                        {
                            "old": u.old,
                            "new": u.new,
                            "accepted": not closed,
                            "failure": why,
                            "fail_mode": settings.fail_mode,
                            "pusher": {"name": pusher.name, "source": pusher.source, "authenticated": pusher.authenticated},
                        },
                    )
                    for u in updates
                ]
            )
        return {}

    recorded = run_in_child(record, max(1.0, settings.time_budget_seconds))
    if "failure" in recorded:
        print(f"{PREFIX}(the failure could not be recorded either: {recorded['failure']})", file=out)
    return 1 if closed else 0


def post_receive(settings: Settings, env: Mapping[str, str], stdin: TextIO, out: TextIO) -> int:
    """Note what landed in the spool and start the recorder. Refs have moved; nothing can be refused."""
    import dataclasses

    from auditsvc.changes import landings
    from auditsvc.spool import start_recorder, write_entry

    git_dir = env.get("GIT_DIR", ".")
    updates = read_updates(stdin)
    pusher = pusher_from_env(env, settings.pusher_variable)
    try:
        landed = landings(git_dir, updates, settings.protected_refs)
        write_entry(
            git_dir,
            {
                "repo": repository_name(env, git_dir),
                "updates": [dataclasses.astuple(u) for u in updates],
                "landings": [dataclasses.asdict(landing) for landing in landed],
                "pusher": dataclasses.asdict(pusher),
                "pushed_at": time.time(),  # the refs moved now; the recorder may run later
            },
        )
        start_recorder(git_dir, settings.config_path, env)
    except (AuditsvcError, OSError) as err:
        print(
            f"{PREFIX}WARNING: the changes of this push were not recorded: {err}; "
            "`auditsvc import` can record them later",
            file=out,
        )
    return 0


def record(settings: Settings, git_dir: str, out: TextIO) -> int:
    """Record the spooled entries of GIT_DIR oldest first (`auditsvc hook record`); 1 if some remain."""
    from auditsvc.spool import note_failure, pending, read_entry, recorder_lock

    budget = max(60.0, settings.time_budget_seconds * 10)  # a first push of a long history takes a while
    with recorder_lock(git_dir, wait_seconds=budget) as held:
        if not held:
            print(f"{PREFIX}another recorder kept the spool of {git_dir} busy for {budget:g} s; try again", file=out)
            return 1
        for path in pending(git_dir):
            try:
                entry = read_entry(path)
            except (OSError, ValueError) as err:
                result = {"failure": f"unreadable spool entry: {err}"}
            else:
                result = run_in_child(lambda: _record_entry(settings, git_dir, entry), budget)
            if "failure" in result:
                # Stop at the first failure: later pushes are recorded after earlier ones.
                note_failure(git_dir, path, result["failure"])
                print(f"{PREFIX}{path.name} not recorded: {result['failure']}", file=out)
                return 1
            path.unlink()
    return 0


def _record_entry(settings: Settings, git_dir: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    import datetime

    from auditsvc.audit import open_log
    from auditsvc.audit.canonical import format_time
    from auditsvc.gate import change_events, landing_events
    from auditsvc.model import Landing

    repo = entry["repo"]
    with open_log(settings.db) as log:
        pushed_at = format_time(datetime.datetime.fromtimestamp(entry["pushed_at"], datetime.timezone.utc))
        if "landings" in entry:
            landed = [Landing.from_record(record) for record in entry["landings"]]
            events = landing_events(git_dir, repo, landed, entry["pusher"], settings, log.put_content, pushed_at)
        else:  # spooled by an earlier version: the new commits, each with the first ref bringing it
            events = change_events(git_dir, repo, dict(entry["landed"]), entry["pusher"], settings, log.put_content, pushed_at)
        seqs = log.append(events)
        log.checkpoint(repo)
    return {"recorded": len(set(seqs))}
