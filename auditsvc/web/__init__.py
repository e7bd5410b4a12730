"""The HTTP service: `create_app(settings)` is the WSGI application `auditsvc serve` runs under
gunicorn. Routes: /healthz, /readyz, /metrics, /openapi.json, /webhooks/* (webhooks.py), /v1/*
(api.py). Auth in auth.py; the delivery worker in worker.py; the service's own state in store.py.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from auditsvc.config import Settings
from auditsvc.web.problems import problem

OPENAPI = Path(__file__).resolve().parent / "openapi.json"
logger = logging.getLogger("auditsvc.http")
_CONVERTER = re.compile(r"<(?:[^<>]*:)?([^<>:]+)>")


def route_template(rule: str) -> str:
    """A Flask rule as the OpenAPI document writes its path: /v1/commits/<sha> -> /v1/commits/{sha}."""
    return _CONVERTER.sub(r"{\1}", rule)


def create_app(settings: Settings) -> Flask:
    from auditsvc.web import api, webhooks
    from auditsvc.web.auth import note_access, requires
    from auditsvc.web.metrics import LATENCY, REQUESTS, exposition
    from auditsvc.web.runtime import audit_log, service_store

    app = Flask("auditsvc")
    app.config["AUDITSVC_SETTINGS"] = settings
    app.config["AUDITSVC_ORIGIN"] = f"auditsvc/{settings.db}"
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    app.register_blueprint(webhooks.blueprint)
    app.register_blueprint(api.blueprint)

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok"}

    @app.get("/readyz")
    @requires("reader")
    def readyz() -> Any:
        try:
            size = audit_log().size()
            depth = service_store().queue_depth()
        except Exception as err:  # noqa: BLE001 - any failure to reach a store means not ready
            return problem(503, "Not ready", f"a store is not reachable: {err}")
        return {"status": "ready", "events": size, "queue": depth}

    @app.get("/metrics")
    @requires("reader")
    def metrics() -> Any:
        body, content_type = exposition(lambda: service_store().queue_depth())
        return Response(body, content_type=content_type)

    @app.get("/openapi.json")
    @requires("reader")
    def openapi() -> Any:
        return Response(OPENAPI.read_bytes(), mimetype="application/json")

    @app.before_request
    def started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def finished(response: Response) -> Response:
        route = route_template(request.url_rule.rule) if request.url_rule is not None else "<unmatched>"
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        REQUESTS.labels(route, request.method, str(response.status_code)).inc()
        LATENCY.labels(route).observe(seconds)
        token = g.get("token")
        if token is not None and route.startswith("/v1/"):
            note_access(response.status_code)
        logger.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "path": request.path,
                "status": response.status_code,
                "ms": round(seconds * 1000, 2),
                "token": token.name if token is not None else None,
            },
        )
        return response

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Any:
        if err.code == 413:
            limit = settings.max_body_bytes
            return problem(413, "Payload Too Large", f"the body is larger than the limit of {limit} bytes (max_body_bytes)")
        return problem(err.code or 500, err.name, err.description or err.name)

    @app.errorhandler(Exception)
    def internal_error(err: Exception) -> Any:
        logger.exception("unhandled error", extra={"path": request.path})
        return problem(500, "Internal Server Error", f"{type(err).__name__}: see the service log")

    return app


__all__ = ["create_app"]
