"""The delivery worker: one thread per gunicorn worker process takes queued webhook deliveries
from the persisted queue, records each in a fresh process (`python -m auditsvc.record`: the
Rego engine can abort a process, and a delivery must not take the server down), and moves
noted access records into the audit log. A delivery is marked done only after its events are appended, so a restart at any
point loses none; recording is idempotent, so doing one twice adds nothing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from auditsvc.audit import AuditLog, EventDraft, open_log
from auditsvc.config import Settings
from auditsvc.web.store import Delivery, ServiceStore

RECORD_BUDGET_SECONDS = 600.0  # a first push of a long history takes a while to record
IDLE_SECONDS = 0.2
ACCESS_FLUSH_SECONDS = 2.0
logger = logging.getLogger("auditsvc.worker")


def process(settings: Settings, delivery: Delivery) -> dict[str, Any]:
    """Record one delivery in a fresh process (auditsvc.record); {"failure": why} when it could not be."""
    request = json.dumps({"settings": dataclasses.asdict(settings), "job": delivery.payload})
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "auditsvc.record"],
            input=request, capture_output=True, text=True, timeout=RECORD_BUDGET_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return {"failure": f"time budget of {RECORD_BUDGET_SECONDS:g} s ran out"}
    if proc.returncode < 0:
        return {"failure": f"the check crashed ({signal.Signals(-proc.returncode).name})"}
    lines = proc.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        errors = proc.stderr.strip().splitlines()
        return {"failure": f"the recorder ended without a result (exit {proc.returncode}): {errors[-1] if errors else 'no output'}"}


def flush_access(store: ServiceStore, log: AuditLog) -> int:
    """Append pending access records as `access` events (no checkpoint of their own: the next
    unit of work's checkpoint covers them; signing one per query would slow every query)."""
    with store.take_access() as pending:
        if pending:
            log.append([EventDraft("access", key, None, None, None, body) for key, body in pending])
    return len(pending)


def run_once(settings: Settings, store: ServiceStore) -> bool:
    """Work one delivery; False when none was queued."""
    from auditsvc.web.metrics import DECISIONS

    delivery = store.claim()
    if delivery is None:
        return False
    started = time.monotonic()
    result = process(settings, delivery)
    store.finish(delivery, result)
    if "failure" in result:
        logger.warning("delivery failed", extra={"delivery": delivery.id, "attempt": delivery.attempts, "error": result["failure"]})
    else:
        DECISIONS.labels("webhook", "violation" if result["violations"] else "pass").inc()
        logger.info(
            "delivery recorded",
            extra={"delivery": delivery.id, "seconds": round(time.monotonic() - started, 3), **result},
        )
    return True


def start(settings: Settings) -> threading.Thread:
    """Start the worker thread of this process."""

    def loop() -> None:
        store = ServiceStore.open(settings.service_dir)
        log = open_log(settings.db)
        next_flush = 0.0
        while True:
            busy = False
            try:
                # Access records go in batches: one append per query would take the log's write
                # lock, and make every query re-index, on every request.
                if time.monotonic() >= next_flush:
                    flush_access(store, log)
                    next_flush = time.monotonic() + ACCESS_FLUSH_SECONDS
                busy = run_once(settings, store)
            except Exception:  # noqa: BLE001 - logged; the loop must outlive one bad delivery or a busy store
                logger.exception("worker error")
            if not busy:
                time.sleep(IDLE_SECONDS)

    thread = threading.Thread(target=loop, name="auditsvc-worker", daemon=True)
    thread.start()
    return thread
