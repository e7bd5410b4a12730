"""The delivery worker: one thread per gunicorn worker process takes queued webhook deliveries
from the persisted queue, records each in a child process (the Rego engine can abort a
process; a delivery must not take the server down), and moves noted access records into the
audit log. A delivery is marked done only after its events are appended, so a restart at any
point loses none; recording is idempotent, so doing one twice adds nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from auditsvc.audit import EventDraft, SqliteAuditLog
from auditsvc.config import Settings
from auditsvc.web.store import Delivery, ServiceStore

RECORD_BUDGET_SECONDS = 600.0
IDLE_SECONDS = 0.2
ACCESS_FLUSH_SECONDS = 2.0
logger = logging.getLogger("auditsvc.worker")


def process(settings: Settings, delivery: Delivery) -> dict[str, Any]:
    """Record one delivery; {"failure": why} when it could not be."""
    from auditsvc.hook import run_in_child
    from auditsvc.identity import Pusher
    from auditsvc.model import RefUpdate
    from auditsvc.record import HostedPush, record_push

    job = delivery.payload
    pusher = job["pusher"]
    hosted = HostedPush(
        job["source"],
        job["repo"],
        RefUpdate(job["old"], job["new"], job["ref"]),
        Pusher(pusher["name"], job["source"], False, pusher.get("email", ""), pusher.get("id", "")),
    )
    return run_in_child(lambda: record_push(settings, hosted), RECORD_BUDGET_SECONDS)


def flush_access(store: ServiceStore, log: SqliteAuditLog) -> int:
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
        log = SqliteAuditLog.open(settings.db)
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
