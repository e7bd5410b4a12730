"""Canonical JSON and timestamps: the byte-exact forms that get hashed and signed."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from typing import Any

from auditsvc.errors import AuditError

RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")


def canonical_json(value: Any) -> str:
    """Sorted keys, compact separators, UTF-8 kept as is; NaN and infinities are refused."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise AuditError(f"value cannot be stored as canonical JSON: {err}") from None


def digest(value: Any) -> str:
    """SHA-256 hex of the canonical JSON of value: the content address used by the contents table."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def utc_now() -> str:
    """The current time as RFC 3339 UTC with microseconds, e.g. 2026-01-31T12:00:00.123456Z."""
    return format_time(datetime.datetime.now(datetime.timezone.utc))


def format_time(moment: datetime.datetime) -> str:
    if moment.tzinfo is None:
        raise AuditError("timestamps must be timezone-aware")
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_rfc3339_utc(text: str) -> bool:
    if not RFC3339_UTC.fullmatch(text):
        return False
    try:
        datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True
