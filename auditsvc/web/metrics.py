"""Prometheus metrics: requests and latency by route, webhook queue depth, decisions by result.

Under `auditsvc serve` every gunicorn worker writes its samples to PROMETHEUS_MULTIPROC_DIR
(set before the workers start) and a scrape sums them; without it (one process) the default
registry is used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REQUESTS = Counter("auditsvc_http_requests", "HTTP requests by route, method and status", ["route", "method", "status"])
LATENCY = Histogram(
    "auditsvc_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DECISIONS = Counter("auditsvc_decisions", "Decisions by door and result", ["door", "result"])


class QueueCollector(Collector):
    """Webhook deliveries by status, read from the persisted queue at scrape time."""

    def __init__(self, depth: Any) -> None:
        self._depth = depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("auditsvc_webhook_queue_depth", "Webhook deliveries by status", labels=["status"])
        for status, count in self._depth().items():
            gauge.add_metric([status], count)
        yield gauge


def exposition(depth: Any) -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        for collector in (REQUESTS, LATENCY, DECISIONS):
            registry.register(collector)
    registry.register(QueueCollector(depth))
    return generate_latest(registry), CONTENT_TYPE_LATEST

