"""`auditsvc serve`: create_app(settings) under gunicorn, with a delivery worker thread in every
gunicorn worker process, JSON logs, and Prometheus samples shared across the workers."""

from __future__ import annotations

import gc
import os
import shutil
from typing import Any

from gunicorn.app.base import BaseApplication

from auditsvc.config import Settings


class _Service(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from auditsvc.web import create_app

        return create_app(self.settings)


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Run the service until SIGTERM/SIGINT. Deliveries claimed by a previous run are queued
    again first: no worker of this service is working on them any more."""
    from auditsvc.web import worker
    from auditsvc.web.logs import LOGGING
    from auditsvc.web.store import ServiceStore

    with ServiceStore.open(settings.service_dir) as store:
        store.release_claims()
    metrics_dir = settings.service_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    def post_worker_init(_worker: Any) -> None:
        # The app and its imports stay for the worker's life: keep them out of every collection.
        # Full collections over them paused queries by about 5 ms (bench/audit_bench.py).
        gc.freeze()
        worker.start(settings)

    def child_exit(_server: Any, child: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(child.pid)

    _Service(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "sync",
            "timeout": 120,
            "graceful_timeout": 10,
            "post_worker_init": post_worker_init,
            "child_exit": child_exit,
            "logconfig_dict": LOGGING,
            "accesslog": None,
            "proc_name": "auditsvc",
            "control_socket_disable": True,  # one per user by default: would clash between services
        },
    ).run()
