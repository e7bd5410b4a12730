"""The audit log on SQLite and on PostgreSQL, side by side: append throughput and read latency.

    .venv/bin/python bench/backend_bench.py [--events 20000] [--single 500] [--queries 300]

For each backend, in a fresh log (a temporary SQLite file; a temporary schema in the
PostgreSQL database of $AUDITSVC_BENCH_POSTGRES, default postgresql://postgres@127.0.0.1:5432/test):

1. appends --events realistic change events (those of bench/audit_bench.py) in batches of 500,
   one transaction each: events/s;
2. appends --single more events one per transaction (the hook's pattern: a push event per
   ref): events/s;
3. signs a checkpoint over the whole log, then times --queries lookups each of get(seq),
   seq_of(natural key), prove(seq) (reads every leaf hash) and a page of events(): p50/p99;
4. builds the query index (for PostgreSQL: in a local SQLite replica of the events, under a
   temporary XDG_CACHE_HOME) and times `history` of a resource and `changes --actor X`: p50/p99;
5. verify() of the whole log: events/s.

Prints both backends' numbers and the PostgreSQL/SQLite ratio; asserts nothing. The numbers are
from this machine in this run (PostgreSQL on the same host, over TCP loopback).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import psycopg  # noqa: E402
from audit_bench import START, draft_batches, percentiles  # noqa: E402

from auditsvc import queries  # noqa: E402
from auditsvc.audit import EventDraft, open_log  # noqa: E402

POSTGRES = os.environ.get("AUDITSVC_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BATCH = 500


def latencies(results: dict[str, float], name: str, call: Callable[[Any], object], args: list[Any]) -> None:
    """p50 and p99 in ms of call(arg) for each arg, into results."""
    times = []
    for arg in args:
        started = time.perf_counter()
        call(arg)
        times.append(time.perf_counter() - started)
    p50, p99 = percentiles(times)
    results[f"{name} p50 (ms)"] = p50 * 1000
    results[f"{name} p99 (ms)"] = p99 * 1000


def measure(url: str, events: int, single: int, queries_count: int) -> dict[str, float]:
    results: dict[str, float] = {}
    batches = [drafts for _, drafts in draft_batches(events, BATCH, START, timedelta(minutes=20))]
    with open_log(url) as log:
        started = time.perf_counter()
        for drafts in batches:
            log.append(drafts)
        results["append, 500 per transaction (events/s)"] = log.size() / (time.perf_counter() - started)

        size = log.size()
        started = time.perf_counter()
        for i in range(single):
            log.append([EventDraft("push", f"push:bench:{i}", "bench", "refs/heads/main", f"{i:040x}", {"n": i})])
        results["append, 1 per transaction (events/s)"] = (log.size() - size) / (time.perf_counter() - started)

        started = time.perf_counter()
        head = log.checkpoint("bench")
        results["checkpoint over the log (ms)"] = (time.perf_counter() - started) * 1000

        rng = random.Random(7)
        seqs = [rng.randint(1, head.size) for _ in range(queries_count)]
        keys = [event.natural_key for event in (log.get(seq) for seq in seqs) if event is not None]
        latencies(results, "get(seq)", log.get, seqs)
        latencies(results, "seq_of(natural key)", log.seq_of, keys)
        latencies(results, "events(since): first 100", lambda s: [e for _, e in zip(range(100), log.events(s))], seqs)
        latencies(results, "prove(seq)", log.prove, seqs[: max(1, queries_count // 10)])

        started = time.perf_counter()
        queries.refresh_index(log)
        results["first query: index built (ms)"] = (time.perf_counter() - started) * 1000
        resources = sorted({(e.body["resource"]["kind"], e.body["resource"]["namespace"], e.body["resource"]["name"])
                            for e in (log.get(seq) for seq in seqs) if e is not None and e.type == "change"})
        actors = sorted({e.body["pusher"]["name"] for e in (log.get(seq) for seq in seqs) if e is not None and e.type == "change"})
        latencies(results, "history KIND/NS/NAME", lambda r: queries.history(log, *r), resources[:queries_count])
        actors = (actors * queries_count)[:queries_count]
        latencies(results, "changes --actor X --limit 100", lambda a: queries.changes(log, actor=a), actors)

        started = time.perf_counter()
        report = log.verify()
        assert report.ok, report
        results["verify (events/s)"] = report.events / (time.perf_counter() - started)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="auditsvc-backend-bench-") as work:
        os.environ["XDG_CACHE_HOME"] = os.path.join(work, "cache")  # the PostgreSQL log's query replica
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            print(f"{args.events:,} events in batches of {BATCH}, {args.single} single appends, {args.queries} lookups each")
            sqlite = measure(f"sqlite:///{work}/audit.db", args.events, args.single, args.queries)
            pg_url = f"{POSTGRES}?options=-csearch_path%3D{schema}&signing_key={work}/pg.key"
            postgres = measure(pg_url, args.events, args.single, args.queries)
        finally:
            with psycopg.connect(POSTGRES, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    width = max(len(name) for name in sqlite)
    print(f"{'':{width}}  {'SQLite':>10}  {'PostgreSQL':>10}  {'PG/SQLite':>9}")
    for name, value in sqlite.items():
        print(f"{name:{width}}  {value:>10,.2f}  {postgres[name]:>10,.2f}  {postgres[name] / value:>8.2f}x")


if __name__ == "__main__":
    main()
