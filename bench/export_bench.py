"""Compliance export at scale: peak memory and throughput of every format on a 1,000,000-event log.

    .venv/bin/python bench/export_bench.py [--events 1000000] [--formats csv,jsonl,bundle,html,oscal]

1. Generates (once; cached in bench/corpus/export-<N>/, which is gitignored) a log of --events
   change events with bench/audit_bench.py's generator, storing each version's contents as the
   hook does, and builds the query index.
2. Runs `auditsvc export --format F -o -` in a child process per format, output to /dev/null
   (the bundle to a file, then checked by `auditsvc verify-bundle` in another child);
   the child reports its own peak RSS (VmHWM), printed against the 200 MB target. The peer
   measured in the same run: a child that only reads every event through the log's API
   (`log.events()`), the floor any export pays; each format's time is a ratio to it.
Prints the numbers; asserts nothing. Each export appends its own `access` event to the cached log.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from audit_bench import START, draft_batches, prepared_log  # noqa: E402

from auditsvc.audit import SqliteAuditLog  # noqa: E402
from auditsvc.audit.canonical import canonical_json  # noqa: E402

TARGET_MB = 200
FORMATS = ("csv", "jsonl", "bundle", "html", "oscal")
# Each child reports its own high-water RSS (VmHWM: reset by exec, unlike ru_maxrss, which a child
# forked from this big process inherits).
PEAK = "\nsys.stderr.write(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
READ_ALL = "import sys\nfrom auditsvc.audit import SqliteAuditLog\nwith SqliteAuditLog.open(sys.argv[1]) as log:\n    n = sum(1 for _ in log.events())" + PEAK
EXPORT = "import sys\nfrom auditsvc.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as done:\n    assert not done.code, done.code" + PEAK


def generate_log(url: str, total: int) -> float:
    """audit_bench's change events, with every version's contents stored as the hook stores them
    (the bundle carries the contents its events reference, and its verifier checks them)."""
    started = time.perf_counter()
    current = [START]
    with SqliteAuditLog.open(url, clock=lambda: current[0].strftime("%Y-%m-%dT%H:%M:%S.%fZ")) as log:
        contents = sqlite3.connect(log.path)
        for current[0], drafts in draft_batches(total, 5000, START, timedelta(minutes=20)):
            rows: dict[str, str] = {}
            stored = []
            for draft in drafts:
                body = dict(draft.body)
                for side in ("before", "after"):
                    if body[side]:
                        text = canonical_json({"version": body[side]})
                        body[side] = hashlib.sha256(text.encode()).hexdigest()
                        rows[body[side]] = text
                stored.append(dataclasses.replace(draft, body=body))
            with contents:
                contents.executemany("INSERT OR IGNORE INTO contents (digest, body) VALUES (?, ?)", rows.items())
            log.append(stored)
        contents.close()
    return time.perf_counter() - started


def run_child(args: list[str]) -> tuple[float, float, bool]:
    """(seconds, peak RSS in MB, ok) of one child process, its output discarded."""
    started = time.perf_counter()
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    peak = [line for line in done.stderr.splitlines() if line.startswith("VmHWM:")]
    if done.returncode or not peak:
        sys.stderr.write(done.stderr)
        return seconds, 0.0, False
    return seconds, int(peak[-1].split()[1]) / 1024, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    work = os.path.join(root, "bench", "corpus", f"export-{args.events}")
    os.makedirs(work, exist_ok=True)
    url = prepared_log(work, args.events, generate_log)
    with SqliteAuditLog.open(url) as log:
        events = log.size()
    print(f"log: {events:,} events, {os.path.getsize(os.path.join(work, 'audit.db')) / 1e6:,.0f} MB")

    floor, floor_mb, _ = run_child([sys.executable, "-c", READ_ALL, url])
    print(f"{'peer: read every event (log.events())':<38} {floor:7.1f} s  {events / floor:9,.0f} events/s  peak RSS {floor_mb:6.0f} MB", flush=True)
    bundle = os.path.join(work, "evidence.zip")
    for format in args.formats.split(","):
        output = bundle if format == "bundle" else "-"  # the bundle is verified next
        command = [sys.executable, "-c", EXPORT, "export", "--from", "2000-01-01", "--to", "2100-01-01",
                   "--format", format, "-o", output, "--db", url]
        report(f"export --format {format}", events, floor, *run_child(command))
        if format == "bundle":
            size = os.path.getsize(bundle)
            report(f"verify-bundle ({size / 1e9:.1f} GB)", events, floor, *run_child([sys.executable, "-c", EXPORT, "verify-bundle", bundle]))
            os.unlink(bundle)


def report(what: str, events: int, floor: float, seconds: float, peak_mb: float, ok: bool) -> None:
    verdict = "FAILED" if not ok else ("under" if peak_mb < TARGET_MB else "OVER")
    print(
        f"{what:<38} {seconds:7.1f} s  {events / seconds:9,.0f} events/s  "
        f"peak RSS {peak_mb:6.0f} MB ({verdict} the {TARGET_MB} MB target)  {seconds / floor:5.1f}x the read",
        flush=True,
    )


if __name__ == "__main__":
    main()
