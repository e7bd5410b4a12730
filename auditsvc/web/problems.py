"""Errors as RFC 7807 problem details (application/problem+json)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request

PROBLEM_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": request.path, **extra}
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
