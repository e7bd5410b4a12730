"""Query latency over HTTP under concurrent load, next to the same queries as library calls.

    .venv/bin/python bench/service_bench.py [--events 1000000] [--requests 2000] [--concurrency 8] [--dir DIR]

1. Generates (or reuses, with --dir) a log of --events change events with audit_bench's
   generator and builds the query index.
2. Starts `auditsvc serve` (gunicorn, --workers) on a loopback port with a reader token.
3. Times --requests requests from --concurrency client threads, a mix of
   GET /v1/resources/{kind}/{ns}/{name}/history and GET /v1/changes?actor=X&limit=100
   (each request also records an access event), and /healthz as the floor of the server.
4. Times the same queries as library calls in this process, one at a time (with to_dict of one
   page, as the API answers them), and reads the time spent inside the server from its JSON log.
Prints p50/p99 per route and the ratios HTTP/library; asserts nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import requests  # noqa: E402

from auditsvc import queries  # noqa: E402
from auditsvc.audit import SqliteAuditLog  # noqa: E402
from auditsvc.web.store import ServiceStore  # noqa: E402
from bench.audit_bench import ACTORS, ms, percentiles, prepared_log, resources  # noqa: E402


def start_service(work: str, url: str, workers: int) -> tuple[subprocess.Popen, str, str]:
    config = os.path.join(work, "auditsvc.yaml")
    with open(config, "w") as handle:
        json.dump({"db": url, "state_dir": os.path.join(work, "state")}, handle)
    with ServiceStore.open(os.path.join(work, "state")) as store:
        token = store.create_token(f"bench-{time.time_ns()}", "reader")
    log_path = os.path.join(work, "serve.log")
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditsvc", "serve", "--port", "0", "--workers", str(workers), "--config", config],
        stdout=subprocess.DEVNULL, stderr=open(log_path, "wb"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = open(log_path, encoding="utf-8", errors="replace").read()
        found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", text)
        if found and text.count("Booting worker") >= workers:
            return proc, found.group(1), token
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the service did not start; see {log_path}")


def load(base: str, token: str, paths: list[str], concurrency: int) -> dict[str, list[float]]:
    """Send every request from `concurrency` threads; latencies per route."""
    headers = {"Authorization": f"Bearer {token}"}

    def one(path: str) -> tuple[str, float]:
        started = time.perf_counter()
        response = requests.get(base + path, headers=headers, timeout=120)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code} {response.text[:200]}")
        return path.split("?")[0].split("/")[2] if path.startswith("/v1/") else path, elapsed

    out: dict[str, list[float]] = {}
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for route, elapsed in pool.map(one, paths):
            out.setdefault(route, []).append(elapsed)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--dir", help="work directory (kept, log reused); default: a temporary one, removed")
    args = parser.parse_args()
    work = args.dir or tempfile.mkdtemp(prefix="service-bench-")
    os.makedirs(work, exist_ok=True)
    rng = random.Random(4)
    proc = None
    try:
        url = prepared_log(work, args.events)
        pool = resources()
        picks = [rng.choice(pool) for _ in range(args.requests // 2)]
        actors = [rng.choice(ACTORS)[1] for _ in range(args.requests // 2)]
        paths = [f"/v1/resources/{kind}/{ns}/{name}/history" for _, kind, ns, name, _ in picks]
        paths += [f"/v1/changes?actor={a}&limit=100" for a in actors]
        rng.shuffle(paths)

        proc, base, token = start_service(work, url, args.workers)
        load(base, token, paths[:50], args.concurrency)  # warm up every worker
        started = time.perf_counter()
        timings = load(base, token, paths, args.concurrency)
        wall = time.perf_counter() - started
        floor = load(base, token, ["/healthz"] * 200, args.concurrency)["/healthz"]
        single = load(base, token, paths[:200], 1)

        with SqliteAuditLog.open(url) as log:
            lib_history, lib_changes = [], []
            for _, kind, ns, name, _ in picks[:200]:
                t = time.perf_counter()
                [c.to_dict() for c in queries.history(log, kind, ns, name)[: queries.DEFAULT_LIMIT]]  # one API page
                lib_history.append(time.perf_counter() - t)
            for actor in actors[:200]:
                t = time.perf_counter()
                [c.to_dict() for c in queries.changes(log, actor=actor, limit=100)]
                lib_changes.append(time.perf_counter() - t)

        print(f"HTTP, {args.concurrency} concurrent clients, {args.workers} gunicorn workers, {len(paths):,} requests in {wall:.1f} s "
              f"({len(paths) / wall:,.0f} requests/s):")
        rows = [("resources/.../history", timings["resources"], lib_history, single.get("resources", [])),
                ("changes?actor=X&limit=100", timings["changes"], lib_changes, single.get("changes", []))]
        for label, http, library, alone in rows:
            h50, h99 = percentiles(http)
            l50, l99 = percentiles(library)
            s50, s99 = percentiles(alone)
            print(f"  {label:27} p50 {ms(h50):>10}  p99 {ms(h99):>10} | one client p50 {ms(s50):>9} p99 {ms(s99):>9} "
                  f"| library p50 {ms(l50):>9} p99 {ms(l99):>9} | HTTP/library {h50 / l50:.1f}x p50, {h99 / l99:.1f}x p99")
        f50, f99 = percentiles(floor)
        print(f"  {'/healthz (no query)':27} p50 {ms(f50):>10}  p99 {ms(f99):>10}")
        served: dict[str, list[float]] = {}
        with open(os.path.join(work, "serve.log"), encoding="utf-8") as handle:
            for line in handle:
                entry = json.loads(line) if line.startswith("{") else {}
                if entry.get("message") == "request":
                    served.setdefault(entry["route"], []).append(entry["ms"] / 1000)
        print("time inside the server (JSON request log), all requests of the run:")
        for route, samples in sorted(served.items()):
            s50, s99 = percentiles(samples)
            print(f"  {route:50} p50 {ms(s50):>9}  p99 {ms(s99):>9}  ({len(samples)} requests)")
        with SqliteAuditLog.open(url) as log:
            print(f"log: {log.size():,} events after the run (access events included)")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
