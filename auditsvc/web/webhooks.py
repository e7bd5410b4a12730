"""Webhook receivers: GitHub, GitLab and Gitea pushes (queued, answered 202 at once) and Flux
events (recorded as deploy or drift).

Each delivery is authenticated before anything else is read from it: HMAC-SHA256 over the raw
body (GitHub, Gitea, Flux generic-hmac) or the shared token (GitLab), with the secret of the
repository the payload names, compared in constant time. A missing, wrong or unknown signature
is a 401 and nothing is recorded.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, request

from auditsvc.audit.canonical import utc_now
from auditsvc.errors import ConfigError
from auditsvc.web.problems import problem
from auditsvc.web.runtime import audit_log, service_store, settings

blueprint = Blueprint("webhooks", __name__)

CLUSTER_HEADER = "X-Auditsvc-Cluster"
HOSTS = ("github", "gitlab", "gitea")
_OID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# host -> (event header, push event names, delivery id header)
_HEADERS = {
    "github": ("X-GitHub-Event", ("push",), "X-GitHub-Delivery"),
    "gitlab": ("X-Gitlab-Event", ("Push Hook", "Tag Push Hook"), "X-Gitlab-Event-UUID"),
    "gitea": ("X-Gitea-Event", ("push",), "X-Gitea-Delivery"),
}


def _hmac_ok(secret: str, body: bytes, given: str | None, prefix: str = "") -> bool:
    if not given or not given.startswith(prefix):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given[len(prefix) :].strip().lower().encode())


def authentic(host: str, secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """The delivery carries a valid signature (or token) for `secret`."""
    if host == "github":
        return _hmac_ok(secret, body, headers.get("X-Hub-Signature-256"), "sha256=")
    if host == "gitea":
        return _hmac_ok(secret, body, headers.get("X-Gitea-Signature"))
    token = headers.get("X-Gitlab-Token")
    return token is not None and hmac.compare_digest(secret.encode("utf-8"), token.encode("utf-8"))


def _payload(body: bytes) -> Any:
    """The JSON payload; GitHub may also send it form-encoded as payload=<json>."""
    if request.mimetype == "application/x-www-form-urlencoded":
        return json.loads(request.form.get("payload", ""))
    return json.loads(body)


def repository_name(host: str, payload: Mapping[str, Any]) -> str | None:
    if host == "gitlab":
        project = payload.get("project")
        return project.get("path_with_namespace") if isinstance(project, Mapping) else None
    repository = payload.get("repository")
    return repository.get("full_name") if isinstance(repository, Mapping) else None


def pusher_of(host: str, payload: Mapping[str, Any]) -> dict[str, str]:
    """The pusher as the host reports it (name, email, id)."""
    if host == "gitlab":
        return {
            "name": str(payload.get("user_username") or payload.get("user_name") or ""),
            "email": str(payload.get("user_email") or ""),
            "id": str(payload.get("user_id") or ""),
        }
    pusher = payload.get("pusher") if isinstance(payload.get("pusher"), Mapping) else {}
    sender = payload.get("sender") if isinstance(payload.get("sender"), Mapping) else {}
    name = pusher.get("login") or pusher.get("username") or sender.get("login") or pusher.get("name") or ""
    return {"name": str(name), "email": str(pusher.get("email") or ""), "id": str(sender.get("id") or pusher.get("id") or "")}


def push_job(host: str, repo: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """What the worker needs from a push payload; ConfigError when it is not a push."""
    ref, old, new = payload.get("ref"), payload.get("before"), payload.get("after")
    if not isinstance(ref, str) or not ref.startswith("refs/"):
        raise ConfigError("the payload has no ref such as refs/heads/main")
    for name, oid in (("before", old), ("after", new)):
        if not isinstance(oid, str) or not _OID.match(oid):
            raise ConfigError(f"the payload's {name} is not a commit id")
    return {
        "source": host,
        "repo": repo,
        "ref": ref,
        "old": old,
        "new": new,
        "pusher": pusher_of(host, payload),
        "pushed_at": utc_now(),  # the host tells us as it lands; the worker may record it later
    }


@blueprint.post("/webhooks/<any(github, gitlab, gitea):host>")
def push_webhook(host: str) -> Any:
    body = request.get_data(cache=True)
    try:
        payload = _payload(body)
    except ValueError:
        payload = None
    repo = repository_name(host, payload) if isinstance(payload, Mapping) else None
    config = settings().repositories.get(repo) if repo else None
    secret = config.get("secret") if isinstance(config, Mapping) else None
    if not secret or not authentic(host, str(secret), body, request.headers):
        return problem(401, "Unauthorized", "missing or wrong signature, or a repository this service does not know")
    event_header, push_events, delivery_header = _HEADERS[host]
    event = request.headers.get(event_header, "")
    if event == "ping":
        return {"status": "pong"}, 200
    if event not in push_events:
        return {"status": "ignored", "event": event}, 202
    try:
        job = push_job(host, repo, payload)
    except ConfigError as err:
        return problem(400, "Not a push", str(err))
    delivery = request.headers.get(delivery_header) or hashlib.sha256(body).hexdigest()
    queued = service_store().enqueue(f"{host}:{delivery}", host, job)
    return {"status": "queued" if queued else "duplicate", "delivery": delivery}, 202


def _flux_signature_ok(secret: str, body: bytes, given: str | None) -> bool:
    """X-Signature: <algorithm>=<hex HMAC> (sha256 by default; sha1, sha384, sha512 also sent)."""
    if not given or "=" not in given:
        return False
    algorithm, _, value = given.partition("=")
    if algorithm.lower() not in ("sha1", "sha256", "sha384", "sha512"):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, algorithm.lower()).hexdigest()
    return hmac.compare_digest(expected.encode(), value.strip().lower().encode())


@blueprint.post("/webhooks/flux")
def flux_webhook() -> Any:
    from auditsvc import flux, mirror

    config = settings().flux
    body = request.get_data(cache=True)
    secret = config.get("secret")
    if secret and not _flux_signature_ok(str(secret), body, request.headers.get("X-Signature")):
        return problem(401, "Unauthorized", "missing or wrong X-Signature")
    cluster = request.headers.get(CLUSTER_HEADER) or str(config.get("cluster") or "default")
    try:
        event = flux.FluxEvent.from_payload(json.loads(body), cluster)
    except ValueError:
        return problem(400, "Not a Flux event", "the body is not JSON")
    except ConfigError as err:
        return problem(400, "Not a Flux event", str(err))
    root = settings().service_dir

    def mirrored(commit: str) -> str | None:
        return next((name for name in settings().repositories if mirror.contains(root, name, commit)), None)

    log = audit_log()
    root.mkdir(parents=True, exist_ok=True)
    # One Flux event at a time across workers: deploy-or-drift depends on what is recorded.
    with open(root / "flux.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        draft = flux.flux_draft(log, event, mirrored)
        [seq] = log.append([draft])
        log.checkpoint(current_app.config["AUDITSVC_ORIGIN"])
    return {"status": "recorded", "type": draft.type, "seq": seq, "commit": draft.commit}, 202
