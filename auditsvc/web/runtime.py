"""What a request handler needs: the settings, and this thread's connections to the service
state and the audit log (opened once per thread; sqlite3 connections stay in their thread)."""

from __future__ import annotations

import threading

from flask import current_app

from auditsvc.audit import AuditLog, open_log
from auditsvc.config import Settings
from auditsvc.web.store import ServiceStore

_local = threading.local()


def settings() -> Settings:
    return current_app.config["AUDITSVC_SETTINGS"]


def service_store() -> ServiceStore:
    return _cached("store", str(settings().service_dir), lambda: ServiceStore.open(settings().service_dir))


def audit_log() -> AuditLog:
    return _cached("log", settings().db, lambda: open_log(settings().db))


def _cached(kind: str, key: str, opener):  # type: ignore[no-untyped-def]
    opened = getattr(_local, "opened", None)
    if opened is None:
        opened = _local.opened = {}
    if (kind, key) not in opened:
        opened[kind, key] = opener()
    return opened[kind, key]
