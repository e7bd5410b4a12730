"""API tokens: `Authorization: Bearer <token>` on every route but /healthz and the webhooks
(which are authenticated by their signatures). Roles are ordered reader < auditor < admin; a
token limited to repositories sees only their history. Every authenticated request is noted as
an access record, which the worker appends to the audit log as an `access` event.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, g, request

from auditsvc.audit.canonical import utc_now
from auditsvc.web import route_template
from auditsvc.web.problems import problem
from auditsvc.web.runtime import service_store
from auditsvc.web.store import Token


def requires(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Route decorator: a live token of at least `role`, else 401 (no or unknown token) or 403."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
            token = service_store().token(secret.strip()) if scheme.lower() == "bearer" and secret.strip() else None
            if token is None:
                response = problem(401, "Unauthorized", "send Authorization: Bearer <token> (auditsvc token create)")
                response.headers["WWW-Authenticate"] = 'Bearer realm="auditsvc"'
                return response
            g.token = token
            if not token.allows(role):
                return problem(403, "Forbidden", f"this route needs the {role} role; token {token.name!r} is {token.role}")
            return view(*args, **kwargs)

        return guarded

    return decorate


def current_token() -> Token:
    return g.token


def visible_repos(repo: str | None) -> list[str] | None:
    """The repositories a query may read: [repo] when asked for one (403 if the token may not
    see it), the token's repositories otherwise; None: every repository."""
    token = current_token()
    if repo:
        if not token.sees(repo):
            abort(problem(403, "Forbidden", f"token {token.name!r} may not read repository {repo!r}"))
        return [repo]
    return list(token.repos) or None


def note_access(status: int) -> None:
    """Record who read what (the audit data's own audit trail)."""
    token = g.get("token")
    if token is None or request.url_rule is None:
        return
    service_store().note_access(
        {
            "token": token.name,
            "role": token.role,
            "method": request.method,
            "route": route_template(request.url_rule.rule),
            "path": request.path,
            "params": {k: request.args.getlist(k) for k in request.args},
            "status": status,
            "remote_addr": request.remote_addr,
            "at": utc_now(),
        }
    )
