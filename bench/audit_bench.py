"""Query latency of the audit log at scale, next to `git log` answering the same questions.

    .venv/bin/python bench/audit_bench.py [--events 1000000] [--queries 200] [--dir DIR]

1. Generates a log of --events synthetic but realistic change events (~2,000 resources in 40
   namespaces, 50 actors, 1-3 resources per commit, field diffs) appended through the log API
   in big batches (made in a second process meanwhile), then builds the query index.
2. Times `history` of one resource and `changes --actor X --limit 100` (library calls, the CLI's
   work minus process start-up; again with the text rendering), --queries each, p50/p99.
3. Makes the same history a git repository (the log's commits, authors, times and files, with
   `git fast-import`; then a commit-graph with changed-path Bloom filters, git's own accelerator
   for path-limited logs), and times `git log --format=... -- FILE` and `git log --author=X -n 100`.
Prints the numbers and the ratios; asserts nothing. Numbers come from this machine in this run.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from auditsvc import queries  # noqa: E402
from auditsvc.audit import EventDraft, SqliteAuditLog  # noqa: E402

KINDS = [("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "ConfigMap"), ("apps/v1", "StatefulSet"), ("networking.k8s.io/v1", "Ingress")]
NAMESPACES = [f"team-{i:02d}" for i in range(40)]
FIRST = ["ada", "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan", "judy"]
LAST = ["lovelace", "builder", "coder", "ops", "admin"]
ACTORS = [(f"{f.title()} {l.title()}", f"{f}.{l}@example.com", f"{f}{i}") for i, (f, l) in enumerate((f, l) for l in LAST for f in FIRST)]
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def resources() -> list[tuple[str, str, str, str, str]]:
    """(apiVersion, kind, namespace, name, path): 2,000 of them."""
    out = []
    for n, namespace in enumerate(NAMESPACES):
        for i in range(50):
            api_version, kind = KINDS[(n + i) % len(KINDS)]
            name = f"app-{i:02d}"
            out.append((api_version, kind, namespace, name, f"clusters/prod/{namespace}/{name}-{kind.lower()}.yaml"))
    return out


def diff_for(kind: str, rng: random.Random, version: int) -> list[dict]:
    if kind in ("Deployment", "StatefulSet"):
        choices = [
            [{"path": "spec.template.spec.containers[0].image", "op": "replace", "old": f"registry.example.com/app:1.{version}", "new": f"registry.example.com/app:1.{version + 1}"}],
            [{"path": "spec.replicas", "op": "replace", "old": rng.randint(1, 5), "new": rng.randint(1, 9)}],
            [
                {"path": "spec.template.spec.containers[0].resources.limits.memory", "op": "replace", "old": "256Mi", "new": "512Mi"},
                {"path": "spec.template.spec.containers[0].env[2].value", "op": "add", "old": None, "new": "true"},
            ],
        ]
    elif kind == "ConfigMap":
        choices = [[{"path": f"data.key{rng.randint(0, 9)}", "op": "replace", "old": f"v{version}", "new": f"v{version + 1}"}]]
    elif kind == "Service":
        choices = [[{"path": "spec.ports[0].port", "op": "replace", "old": 80, "new": 8080}]]
    else:
        choices = [[{"path": "spec.rules[0].host", "op": "replace", "old": "a.example.com", "new": "b.example.com"}]]
    return rng.choice(choices)


def draft_batches(total: int, batch: int, clock_start: datetime, step: timedelta):
    """Synthetic change events in batches, each batch one append (one recorded_at, advancing by step)."""
    rng = random.Random(1)
    pool = resources()
    versions = [0] * len(pool)
    made = 0
    commit_no = 0
    now = clock_start
    while made < total:
        now += step
        drafts = []
        while len(drafts) < batch and made + len(drafts) < total:
            commit_no += 1
            commit = hashlib.sha1(str(commit_no).encode()).hexdigest()
            author = ACTORS[rng.randrange(len(ACTORS))]
            pusher = author if rng.random() < 0.7 else ACTORS[rng.randrange(len(ACTORS))]
            when = (now - timedelta(minutes=rng.randint(1, 600))).strftime("%Y-%m-%dT%H:%M:%SZ")
            for r in rng.sample(range(len(pool)), rng.choice((1, 1, 2, 3))):
                api_version, kind, namespace, name, path = pool[r]
                versions[r] += 1
                op = "created" if versions[r] == 1 else ("deleted" if rng.random() < 0.01 else "modified")
                drafts.append(
                    EventDraft(
                        "change",
                        f"change:bench:{commit}:{path}:{api_version}/{kind}/{namespace}/{name}",
                        "bench",
                        "refs/heads/main",
                        commit,
                        {
                            "op": op,
                            "path": path,
                            "old_path": None,
                            "resource": {"apiVersion": api_version, "kind": kind, "namespace": namespace, "name": name},
                            "before": None if op == "created" else hashlib.sha256(f"{r}:{versions[r] - 1}".encode()).hexdigest(),
                            "after": None if op == "deleted" else hashlib.sha256(f"{r}:{versions[r]}".encode()).hexdigest(),
                            "diff": [] if op != "modified" else diff_for(kind, rng, versions[r]),
                            "author": {"name": author[0], "email": author[1], "time": when},
                            "committer": {"name": author[0], "email": author[1], "time": when},
                            "subject": f"{namespace}: update {name}",
                            "signature": {"status": "N", "signer": "", "key": ""},
                            "pusher": {"name": pusher[2], "source": "gitea", "authenticated": True, "email": pusher[1], "id": ""},
                        },
                    )
                )
        made += len(drafts)
        yield now, drafts


def _produce(queue, total: int, batch: int) -> None:
    for item in draft_batches(total, batch, START, timedelta(minutes=20)):
        queue.put(item)
    queue.put(None)


def generate_log(url: str, total: int, batch: int = 5000) -> float:
    """Append `total` events through the log API; the drafts are made in a second process meanwhile."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue(maxsize=8)
    producer = context.Process(target=_produce, args=(queue, total, batch), daemon=True)
    producer.start()
    current = [START]
    started = time.perf_counter()
    made = 0
    with SqliteAuditLog.open(url, clock=lambda: current[0].strftime("%Y-%m-%dT%H:%M:%S.%fZ")) as log:
        while True:
            item = queue.get()
            if item is None:
                break
            current[0], drafts = item
            log.append(drafts)
            before, made = made, made + len(drafts)
            if made // 100_000 != before // 100_000:
                print(f"  ... {made:,} events, {time.perf_counter() - started:.0f} s", flush=True)
    producer.join()
    return time.perf_counter() - started


def prepared_log(work: str, events: int, generate: Callable[[str, int], float] = generate_log) -> str:
    """The URL of the SQLite log in `work` holding `events` change events, made by `generate`
    unless it is there already, with its query index brought up to date."""
    url = f"sqlite:///{os.path.join(work, 'audit.db')}"
    with SqliteAuditLog.open(url) as log:
        existing = log.size()
    if existing >= events:
        print(f"log: reusing {existing:,} events in {work}", flush=True)
    else:
        if existing:
            raise SystemExit(f"{work} holds a smaller log ({existing:,} events): remove it or use another directory")
        print(f"log: generating {events:,} change events in {work}", flush=True)
        seconds = generate(url, events)
        print(f"log: {events:,} events appended in {seconds:.1f} s ({events / seconds:,.0f} events/s)", flush=True)
    with SqliteAuditLog.open(url) as log:
        started = time.perf_counter()
        indexed = queries.refresh_index(log)
        print(f"index: {indexed:,} events indexed in {time.perf_counter() - started:.1f} s", flush=True)
    return url


# What each query reads: a history the covering stream index, a listing by actor the actor
# table and the change table.
HISTORY_PAGES = ("INDEXED BY change_index_stream",)
ACTOR_PAGES = ("NOT INDEXED", "change_index_actors")


def warm_page_cache(path: str, sources: tuple[str, ...]) -> float:
    """Read what a query reads once, as the page cache of a host serving queries holds it (this
    machine pages out file pages idle for about a minute); returns the seconds it took."""
    started = time.perf_counter()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for source in sources:
            table = source if source.startswith("change_index") else f"change_index {source}"
            db.execute(f"SELECT count(*) FROM {table}").fetchone()
    finally:
        db.close()
    return time.perf_counter() - started


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return statistics.median(ordered), p99


def timed(call, args_list) -> tuple[list[float], list[int]]:
    times, sizes = [], []
    for args in args_list:
        started = time.perf_counter()
        result = call(*args)
        times.append(time.perf_counter() - started)
        sizes.append(len(result))
    return times, sizes


def manifest(body: dict, version: int) -> bytes:
    resource = body["resource"]
    return (
        f"apiVersion: {resource['apiVersion']}\nkind: {resource['kind']}\nmetadata:\n  name: {resource['name']}\n"
        f"  namespace: {resource['namespace']}\nspec:\n  replicas: {version % 9 + 1}\n"
        f"  image: registry.example.com/app:1.{version}\n"
    ).encode()


def generate_git(git_dir: str, events: int) -> tuple[float, int]:
    """The log's history as a git repository: the same commits (author, time, files), one per
    commit id of the log, made by `git fast-import`; then git's own query accelerator, a
    commit-graph with changed-path Bloom filters, as a maintained server would have it."""
    started = time.perf_counter()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", git_dir], check=True)
    proc = subprocess.Popen(["git", "-C", git_dir, "fast-import", "--quiet"], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    versions: dict[str, int] = {}
    mark = 0
    for _, drafts in draft_batches(events, 5000, START, timedelta(minutes=20)):
        by_commit: dict[str, list] = {}
        for draft in drafts:
            by_commit.setdefault(draft.commit, []).append(draft.body)
        for bodies in by_commit.values():
            author = bodies[0]["author"]
            when = int(datetime.strptime(author["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())
            message = bodies[0]["subject"].encode() + b"\n"
            mark += 1
            who = f"{author['name']} <{author['email']}> {when} +0000"
            lines = [f"commit refs/heads/main\nmark :{mark}\nauthor {who}\ncommitter {who}\ndata {len(message)}\n".encode() + message]
            if mark > 1:
                lines.append(f"from :{mark - 1}\n".encode())
            for body in bodies:
                path = body["path"]
                versions[path] = versions.get(path, 0) + 1
                if body["op"] == "deleted":
                    lines.append(f"D {path}\n".encode())
                else:
                    data = manifest(body, versions[path])
                    lines.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
            proc.stdin.write(b"".join(lines))
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "-C", git_dir, "commit-graph", "write", "--reachable", "--changed-paths"], check=True)
    return time.perf_counter() - started, mark


def git_timed(git_dir: str, args_list: list[list[str]]) -> tuple[list[float], list[int]]:
    times, sizes = [], []
    for args in args_list:
        started = time.perf_counter()
        out = subprocess.run(["git", "-C", git_dir, *args], capture_output=True, check=True).stdout
        times.append(time.perf_counter() - started)
        sizes.append(out.count(b"\n"))
    return times, sizes


def ms(value: float) -> str:
    return f"{value * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--git-queries", type=int, default=50)
    parser.add_argument("--dir", help="work directory (kept); default: a temporary one, removed")
    args = parser.parse_args()
    work = args.dir or tempfile.mkdtemp(prefix="audit-bench-")
    os.makedirs(work, exist_ok=True)
    rng = random.Random(3)
    try:
        url = prepared_log(work, args.events)
        with SqliteAuditLog.open(url) as log:
            started = time.perf_counter()
            queries.refresh_index(log)
            print(f"index: up-to-date check {ms(time.perf_counter() - started)}")
            size_mb = os.path.getsize(os.path.join(work, "audit.db")) / 1e6
            print(f"log file: {size_mb:,.0f} MB")

            # A host serving queries has the index in its page cache, and its service workers have
            # frozen their long-lived objects out of garbage collection (auditsvc serve does).
            db_file = os.path.join(work, "audit.db")
            gc.freeze()
            pool = resources()
            history_args = [(log, k, ns, n) for _, k, ns, n, _ in (rng.choice(pool) for _ in range(args.queries))]
            print(f"index: stream index read into the page cache in {warm_page_cache(db_file, HISTORY_PAGES):.1f} s")
            h_times, h_sizes = timed(queries.history, history_args)
            hr_times, _ = timed(lambda *a: queries.render_changes(queries.history(*a)).splitlines(), history_args)
            actor_values = [rng.choice((a[0], a[1], a[2])) for a in (rng.choice(ACTORS) for _ in range(args.queries))]
            print(f"index: change and actor tables read into the page cache in {warm_page_cache(db_file, ACTOR_PAGES):.1f} s")
            c_times, c_sizes = timed(lambda who: queries.changes(log, actor=who, limit=100), [(w,) for w in actor_values])
            cr_times, _ = timed(
                lambda who: queries.render_changes(queries.changes(log, actor=who, limit=100)).splitlines(), [(w,) for w in actor_values]
            )
        h50, h99 = percentiles(h_times)
        c50, c99 = percentiles(c_times)
        print(f"history KIND/NS/NAME:          p50 {ms(h50)}  p99 {ms(h99)}  ({args.queries} queries, {statistics.mean(h_sizes):.0f} changes each on average)")
        print(f"  ... and rendered as text:    p50 {ms(percentiles(hr_times)[0])}  p99 {ms(percentiles(hr_times)[1])}")
        print(f"changes --actor X --limit 100: p50 {ms(c50)}  p99 {ms(c99)}  ({args.queries} queries, {statistics.mean(c_sizes):.0f} changes each)")
        print(f"  ... and rendered as text:    p50 {ms(percentiles(cr_times)[0])}  p99 {ms(percentiles(cr_times)[1])}")

        git_dir = os.path.join(work, "same-history.git")
        if not os.path.isdir(git_dir):
            seconds, commits = generate_git(git_dir, args.events)
            print(f"git: the log's {commits:,} commits made with git fast-import, commit-graph with changed paths written, in {seconds:.1f} s")
        fmt = "--format=%H%x09%an%x09%ae%x09%cI%x09%s"
        paths = [rng.choice(pool)[4] for _ in range(args.git_queries)]
        g_h_times, g_h_sizes = git_timed(git_dir, [["log", fmt, "main", "--", p] for p in paths])
        authors = [rng.choice(ACTORS)[1] for _ in range(args.git_queries)]
        g_c_times, g_c_sizes = git_timed(git_dir, [["log", fmt, f"--author={a}", "-n", "100", "main"] for a in authors])
        # What changed, as changes --actor answers it (each file's diff), not only which commits.
        g_p_times, _ = git_timed(git_dir, [["log", fmt, "-p", f"--author={a}", "-n", "100", "main"] for a in authors])
        gh50, gh99 = percentiles(g_h_times)
        gc50, gc99 = percentiles(g_c_times)
        print(f"git log -- FILE:               p50 {ms(gh50)}  p99 {ms(gh99)}  ({args.git_queries} queries, {statistics.mean(g_h_sizes):.0f} commits each)")
        print(f"git log --author=X -n 100:     p50 {ms(gc50)}  p99 {ms(gc99)}  ({args.git_queries} queries)")
        gp50, gp99 = percentiles(g_p_times)
        print(f"git log -p --author=X -n 100:  p50 {ms(gp50)}  p99 {ms(gp99)}  (the same, with what changed)")
        print(f"ratio history vs git log -- FILE:     {gh50 / h50:,.0f}x at p50, {gh99 / h99:,.0f}x at p99")
        print(f"ratio changes --actor vs git --author: {gc50 / c50:,.0f}x at p50, {gc99 / c99:,.0f}x at p99")
        print(f"ratio changes --actor vs git -p --author: {gp50 / c50:,.0f}x at p50, {gp99 / c99:,.0f}x at p99")
        print(
            f"targets (issue 3): p99 <= 10 ms at 1M events -> history {'met' if h99 <= 0.010 else 'NOT met'}, "
            f"changes {'met' if c99 <= 0.010 else 'NOT met'}; >= 100x git -> history {'met' if gh50 / h50 >= 100 else 'NOT met'}, "
            f"changes {'met' if gc50 / c50 >= 100 else 'NOT met'} against the commit list, "
            f"{'met' if gp50 / c50 >= 100 else 'NOT met'} against the commits with their diffs (p50 ratios)"
        )
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
