"""Backfill: record a repository's existing history as change events, as pushes would have.

    result = import_history(log, "/srv/git/infra.git", settings)            # every branch
    result = import_history(log, git_dir, settings, refs=["main"], repo="infra")

Every commit reachable from the refs (default: all branches, HEAD's first) gets the change
events `gate.change_events` makes for a push — same natural keys, so history the hook already
recorded adds nothing — with the pusher {"name": None, "source": "import", "authenticated":
False}. Commits are processed oldest first in batches (one transaction each): a killed import
resumes where it stopped when run again, and commits that already have change events are not
diffed again. Then one `import` event per ref (key import:<repo>:<ref>:<tip>, so a re-run adds
nothing) and a signed checkpoint. The query index (auditsvc.queries; for a PostgreSQL log, in its
local replica) is brought up to date after each batch.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

from auditsvc import __version__
from auditsvc.audit import EventDraft
from auditsvc.changes import git
from auditsvc.config import Settings
from auditsvc.errors import GitError
from auditsvc.gate import change_events
from auditsvc.identity import repository_name

IMPORT_PUSHER: dict[str, Any] = {"name": None, "source": "import", "authenticated": False}
BATCH_SIZE = 500
_LOOKUP = 500


@dataclasses.dataclass(frozen=True)
class RefPlan:
    ref: str
    tip: str  # the commit the ref points to (annotated tags peeled)
    commits: tuple[str, ...]  # commits first reached from this ref, oldest first


@dataclasses.dataclass(frozen=True)
class RefImport:
    ref: str
    tip: str
    commits: int
    changes: int  # change events these commits have in the log after the import


@dataclasses.dataclass(frozen=True)
class ImportResult:
    repo: str
    refs: tuple[RefImport, ...]
    commits: int  # commits walked
    skipped: int  # commits whose changes were already recorded (by pushes or an earlier import)
    recorded: int  # change events this run added
    import_events: int  # import events this run added
    checkpoint: int  # tree size of the checkpoint signed at the end

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        refs = len(self.refs)
        return (
            f"imported {self.repo}: {refs} ref{'' if refs == 1 else 's'}, {self.commits} commits "
            f"({self.skipped} already recorded), {self.recorded} change events added; "
            f"checkpoint at size {self.checkpoint}"
        )


def _full_ref(git_dir: str, name: str) -> str:
    if name.startswith("refs/"):
        candidates = [name]
    else:
        candidates = [f"refs/heads/{name}", f"refs/tags/{name}", f"refs/{name}"]
    for ref in candidates:
        out = git(git_dir, "for-each-ref", "--format=%(refname)", ref).decode().split()
        if ref in out:
            return ref
    raise GitError(f"no ref {name!r} in {git_dir}: give a branch, a tag or a full ref name")


def default_refs(git_dir: str) -> list[str]:
    """Every branch, the one HEAD names first."""
    branches = sorted(git(git_dir, "for-each-ref", "--format=%(refname)", "refs/heads/").decode().split())
    head = _run_optional(git_dir, "symbolic-ref", "-q", "HEAD")
    if head in branches:
        branches.remove(head)
        branches.insert(0, head)
    return branches


def _run_optional(git_dir: str, *args: str) -> str:
    try:
        return git(git_dir, *args).decode().strip()
    except GitError:
        return ""


def plan(git_dir: str, refs: Sequence[str] = ()) -> list[RefPlan]:
    """Per ref (in order), the commits it reaches that no earlier ref reached, oldest first."""
    if not os.path.isdir(git_dir):
        raise GitError(f"{git_dir} is not a directory")
    git(git_dir, "rev-parse", "--git-dir")  # a clear error when it is no repository
    names = [_full_ref(git_dir, r) for r in refs] if refs else default_refs(git_dir)
    plans: list[RefPlan] = []
    tips: list[str] = []
    for ref in dict.fromkeys(names):
        try:
            tip = git(git_dir, "rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()
        except GitError:
            continue  # a tag of a tree or blob: no history
        stdin = "\n".join([tip, *(f"^{t}" for t in tips)]) + "\n"
        commits = git(git_dir, "rev-list", "--topo-order", "--reverse", "--stdin", input=stdin.encode()).decode().split()
        plans.append(RefPlan(ref, tip, tuple(commits)))
        tips.append(tip)
    return plans


def _recorded(conn: Any, repo: str, commits: Sequence[str]) -> dict[str, int]:
    """How many change events keyed by commit (as `change_events` keys them) each of these commits
    already has in the log, commits with none left out. The events a push records when it brings
    a commit to one more ref (keyed by ref and commit, gate.landing_events) do not count."""
    found: dict[str, int] = {}
    for start in range(0, len(commits), _LOOKUP):
        chunk = list(commits[start : start + _LOOKUP])
        marks = ",".join(f"?{n}" for n in range(3, len(chunk) + 3))
        for commit, count in conn.execute(
            f'SELECT "commit", COUNT(*) FROM events WHERE "commit" IN ({marks}) AND type = \'change\' AND repo = ?1 '
            "AND substr(natural_key, 1, length(?2) + length(\"commit\") + 1) = ?2 || \"commit\" || ':' GROUP BY \"commit\"",
            [repo, f"change:{repo}:", *chunk],
        ):
            found[commit] = count
    return found


def import_history(
    log: Any,
    git_dir: str,
    settings: Settings,
    refs: Sequence[str] = (),
    repo: str | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Record the history reachable from refs; progress(done, total) is called with commit counts."""
    from auditsvc.queries import _ready, refresh_index  # our connection to the log's (or its replica's) file

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    repo = repo or repository_name({}, git_dir)
    plans = plan(git_dir, refs)
    ref_of = {c: p.ref for p in plans for c in p.commits}
    order = [c for p in plans for c in p.commits]
    total = len(order)
    conn = _ready(log)
    if progress:
        progress(0, total)
    skipped = recorded = 0
    for start in range(0, total, batch_size):
        batch = order[start : start + batch_size]
        already = _recorded(conn, repo, batch)
        todo = {c: ref_of[c] for c in batch if c not in already}
        skipped += len(batch) - len(todo)
        if todo:
            events = change_events(git_dir, repo, todo, IMPORT_PUSHER, settings, log.put_content)
            size = log.size()
            seqs = log.append(events)
            recorded += sum(1 for s in set(seqs) if s > size)
            refresh_index(log)  # keep the query index up to date as we go: the first query is not kept waiting
        if progress:
            progress(min(start + batch_size, total), total)
    summaries = []
    drafts = []
    for p in plans:
        counts = _recorded(conn, repo, p.commits)
        summary = RefImport(p.ref, p.tip, len(p.commits), sum(counts.values()))
        summaries.append(summary)
        drafts.append(
            EventDraft(
                "import",
                f"import:{repo}:{p.ref}:{p.tip}",
                repo,
                p.ref,
                p.tip,
                {
                    "ref": p.ref,
                    "tip": p.tip,
                    "commits": summary.commits,
                    "changes": summary.changes,
                    "pusher": dict(IMPORT_PUSHER),
                    "tool": f"auditsvc {__version__}",
                },
            )
        )
    size = log.size()
    seqs = log.append(drafts)
    added = sum(1 for s in set(seqs) if s > size)
    head = log.checkpoint(repo)
    return ImportResult(repo, tuple(summaries), total, skipped, recorded, added, head.size)
