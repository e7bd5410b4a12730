"""The versioned JSON API: validate, and the queries of the CLI (same library functions).

Lists come as {"items": [...], "next_cursor": str | null}; pass next_cursor back as `cursor`
for the next page. Cursors are opaque (base64 JSON of the last item's sort key).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flask import Blueprint, abort, request

from auditsvc import flux, queries
from auditsvc.errors import AuditError, AuditsvcError, ConfigError
from auditsvc.web.auth import current_token, requires, visible_repos
from auditsvc.web.problems import problem
from auditsvc.web.runtime import audit_log, service_store, settings

blueprint = Blueprint("api", __name__)

MAX_LIMIT = 1000
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


# --- paging -----------------------------------------------------------------------------------


def _limit() -> int:
    text = request.args.get("limit", str(queries.DEFAULT_LIMIT))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        abort(problem(400, "Bad limit", f"limit must be a whole number from 1 to {MAX_LIMIT}"))
    return int(text)


def _cursor() -> list[Any] | None:
    text = request.args.get("cursor")
    if not text:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4)))
        if isinstance(value, list):
            return value
    except ValueError:
        pass
    abort(problem(400, "Bad cursor", "cursor must be a next_cursor value from a previous page"))


def _encode(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _page(items: list[Any], key: Callable[[Any], Sequence[Any]], render: Callable[[Any], Any], limit: int) -> dict[str, Any]:
    """items are in order and already after the cursor; one more than limit means another page."""
    shown = items[:limit]
    more = len(items) > limit
    return {"items": [render(i) for i in shown], "next_cursor": _encode(key(shown[-1])) if more else None}


def _after(items: Iterable[Any], key: Callable[[Any], Sequence[Any]], cursor: list[Any] | None, descending: bool = False) -> list[Any]:
    if cursor is None:
        return list(items)
    if descending:
        return [i for i in items if list(key(i)) < cursor]
    return [i for i in items if list(key(i)) > cursor]


def _micros(text: str) -> int:
    moment = queries.parse_time(text)
    return (moment - _EPOCH) // datetime.timedelta(microseconds=1)


def _change_key(change: queries.Change) -> tuple[int, int]:
    return _micros(change.time), change.seq


def _iso(micros: int) -> str:
    return (_EPOCH + datetime.timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- validate ---------------------------------------------------------------------------------


@blueprint.post("/v1/validate")
@requires("reader")
def validate() -> Any:
    from auditsvc.hook import run_in_child
    from auditsvc.manifests import Source

    if request.mimetype == "multipart/form-data":
        sources = [Source(f.filename or name, f.read()) for name in request.files for f in request.files.getlist(name)]
    else:
        sources = [Source(request.args.get("filename", "<body>"), request.get_data())]
    if not sources or not any(s.data for s in sources):
        return problem(400, "Nothing to validate", "send manifests as the body (YAML or JSON) or as multipart files")
    version = request.args.get("kubernetes_version")
    namespaces = tuple(request.args.getlist("namespace"))
    chosen = dataclasses.replace(
        settings(),
        kubernetes_version=version or settings().kubernetes_version,
        namespaces=namespaces or settings().namespaces,
    )

    def work() -> dict[str, Any]:
        from auditsvc.check import Checker, find_crds, run_check
        from auditsvc.report.findings import result_dict

        checker = Checker.from_settings(chosen, crds=find_crds(sources, chosen.limits))
        result = run_check(checker, sources, workers=1)
        return {"result": result_dict(result), "failed": result.exit_code(chosen.fail_on_warn) != 0}

    # In a forked child: a policy that crashes the Rego engine ends this check, not the worker.
    # (A fork is safe here although the delivery thread runs: the check touches no SQLite.)
    outcome = run_in_child(work, max(10.0, chosen.time_budget_seconds * 4))
    if "failure" in outcome:
        return problem(422, "Cannot check", outcome["failure"])
    from auditsvc.web.metrics import DECISIONS

    DECISIONS.labels("validate", "fail" if outcome["failed"] else "pass").inc()
    return outcome["result"]


# --- queries ----------------------------------------------------------------------------------


@blueprint.get("/v1/resources/<kind>/<namespace>/<name>/history")
@requires("reader")
def history(kind: str, namespace: str, name: str) -> Any:
    repos = visible_repos(request.args.get("repo"))
    limit, cursor = _limit(), _cursor()
    found = queries.history(
        audit_log(), kind, "" if namespace == "_" else namespace, name, api_version=request.args.get("api_version") or None
    )
    found = [c for c in found if repos is None or c.repo in repos]
    return _page(_after(found, _change_key, cursor), _change_key, lambda c: c.to_dict(), limit)


_CHANGE_FILTERS = ("actor", "kind", "namespace", "ref", "path", "field", "since", "until")


@blueprint.get("/v1/changes")
@requires("reader")
def changes() -> Any:
    repos = visible_repos(request.args.get("repo"))
    limit, cursor = _limit(), _cursor()
    filters = {name: request.args[name] for name in _CHANGE_FILTERS if name in request.args}
    if cursor is not None:
        filters["until"] = _iso(cursor[0])  # newest first: the next page ends where this one stopped
    want = limit + 1
    while True:
        batches = [queries.changes(audit_log(), repo=repo, limit=want, **filters) for repo in repos or [None]]
        found = sorted((c for batch in batches for c in batch), key=_change_key, reverse=True)
        after = _after(found, _change_key, cursor, descending=True)
        # Changes at the cursor's own microsecond may fill a whole batch: ask for more.
        if len(after) > limit or all(len(batch) < want for batch in batches):
            return _page(after, _change_key, lambda c: c.to_dict(), limit)
        want *= 4


@blueprint.get("/v1/commits/<sha>")
@requires("reader")
def commit(sha: str) -> Any:
    repos = visible_repos(None)
    try:
        record = queries.show(audit_log(), sha)
    except AuditError as err:
        return problem(404, "Not found", str(err))
    events = [e for e in record.pushes + record.overrides + record.imports + record.other if repos is None or e.repo in repos]
    found = [c for c in record.changes if repos is None or c.repo in repos]
    if not events and not found:
        return problem(404, "Not found", f"nothing is recorded for commit {sha} in the repositories this token may read")

    def of(*types: str) -> list[dict[str, Any]]:
        return [e.to_dict() for e in events if e.type in types]

    return {
        "commit": record.commit,
        "pushes": of("push"),
        "changes": [c.to_dict() for c in found],
        "overrides": of("override"),
        "violations": of("violation"),
        "deploys": of("deploy", "drift"),
        "imports": of("import"),
        "other": [e.to_dict() for e in events if e.type not in ("push", "override", "violation", "deploy", "drift", "import")],
    }


def _resource_key(resource: queries.Resource) -> list[str]:
    r = resource.resource
    return [resource.repo, resource.ref, r["kind"], r["namespace"], r["name"], r["apiVersion"]]


@blueprint.get("/v1/state")
@requires("reader")
def state() -> Any:
    at = request.args.get("at")
    if not at:
        return problem(400, "Missing at", "give at: a time (ISO-8601, 2026-01-31, 7d) or a commit id")
    repos = visible_repos(request.args.get("repo"))
    limit, cursor = _limit(), _cursor()
    ref = request.args.get("ref") or None
    found = [queries.state(audit_log(), at, repo=repo, ref=ref) for repo in repos or [None]]
    resources = sorted((r for s in found for r in s.resources), key=_resource_key)
    page = _page(_after(resources, _resource_key, cursor), _resource_key, lambda r: r.to_dict(), limit)
    return {"at": found[0].at, "commit": found[0].commit, "repo": request.args.get("repo"), "ref": ref, **page}


@blueprint.get("/v1/deploys")
@requires("reader")
def deploys() -> Any:
    repos = visible_repos(None)
    limit, cursor = _limit(), _cursor()
    sha = request.args.get("commit") or None
    found = flux.deploys(audit_log(), commit=sha, cluster=request.args.get("cluster") or None)
    found = [e for e in found if repos is None or e.repo in repos]
    page = _page(_after(found, lambda e: [e.seq], cursor), lambda e: [e.seq], lambda e: e.to_dict(), limit)
    if sha:
        try:
            page["lead_time"] = flux.lead_time(audit_log(), sha)
        except AuditError:
            page["lead_time"] = None  # deployed, but no push or change of it is recorded
    return page


# --- integrity --------------------------------------------------------------------------------


@blueprint.get("/v1/verify")
@requires("auditor")
def verify() -> Any:
    return audit_log().verify().to_dict()


@blueprint.get("/v1/checkpoints/latest")
@requires("reader")
def latest_checkpoint() -> Any:
    from auditsvc.audit.signing import public_key_base64

    log = audit_log()
    head = log.latest_checkpoint()
    if head is None:
        return problem(404, "Not found", "no checkpoint has been signed yet")
    return {
        "origin": head.origin,
        "size": head.size,
        "root": head.root.hex(),
        "time": head.time,
        "checkpoint": head.to_dict(),  # the signed note, as verify_proof and verify-proof take it
        "public_key": public_key_base64(log.public_key()),
    }


@blueprint.get("/v1/events/<int:seq>/proof")
@requires("auditor")
def proof(seq: int) -> Any:
    """The same document as `auditsvc prove SEQ`: check it offline with `auditsvc verify-proof`."""
    from auditsvc.audit.signing import public_key_base64

    log = audit_log()
    event = log.get(seq)
    if event is None or not current_token().sees(event.repo):
        return problem(404, "Not found", f"no event {seq} this token may read")
    head = log.latest_checkpoint()
    if head is None or head.size < seq:
        head = log.checkpoint(log.location)  # never the URL itself: it may hold a password
    document = {
        "proof": log.prove(seq, head.size).to_dict(),
        "checkpoint": head.to_dict(),
        "public_key": public_key_base64(log.public_key()),
    }
    return document


@blueprint.get("/v1/exports")
@requires("auditor")
def exports() -> Any:
    """A compliance export of a period, streamed: what `auditsvc export` writes (README, For auditors)."""
    from flask import Response

    from auditsvc.export import MEDIA_TYPES, SUFFIXES, Period, export

    fmt = request.args.get("format", "")
    if fmt not in MEDIA_TYPES:
        return problem(400, "Bad format", f"format must be one of {', '.join(MEDIA_TYPES)}")
    start = request.args.get("from")
    if not start:
        return problem(400, "Missing from", "give from: the first day or time (2026-01-01, ISO-8601, or a span such as 90d)")
    repos = visible_repos(request.args.get("repo"))
    if repos is not None and len(repos) != 1:
        return problem(400, "Missing repo", "this token reads several repositories: give repo, one of " + ", ".join(repos))
    token = current_token()
    log = audit_log()
    try:
        period = Period.parse(start, request.args.get("to", "now"), repos[0] if repos else None)
        chunks = export(log, fmt, period, actor={"name": token.name, "source": "api", "authenticated": True}, origin=log.location)
    except ConfigError as err:
        return problem(400, "Bad export request", str(err))
    filename = f"auditsvc-export{SUFFIXES[fmt]}"
    return Response(chunks, mimetype=MEDIA_TYPES[fmt], headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- tokens -----------------------------------------------------------------------------------


@blueprint.get("/v1/tokens")
@requires("admin")
def list_tokens() -> Any:
    return {"items": [t.to_dict() for t in service_store().tokens()], "next_cursor": None}


@blueprint.post("/v1/tokens")
@requires("admin")
def create_token() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not isinstance(body.get("role"), str):
        return problem(400, "Bad token request", 'send {"name": ..., "role": reader|auditor|admin, "repos": [...]}')
    repos = body.get("repos") or []
    if not isinstance(repos, list) or not all(isinstance(r, str) for r in repos):
        return problem(400, "Bad token request", "repos must be a list of repository names")
    secret = service_store().create_token(body["name"], body["role"], repos)
    return {"name": body["name"], "role": body["role"], "repos": sorted(set(repos)), "token": secret}, 201


@blueprint.delete("/v1/tokens/<name>")
@requires("admin")
def revoke_token(name: str) -> Any:
    if not service_store().revoke_token(name):
        return problem(404, "Not found", f"no live token named {name!r}")
    return "", 204


@blueprint.errorhandler(AuditsvcError)
def library_error(err: AuditsvcError) -> Any:
    """Bad parameters (ConfigError) are the caller's; anything else from the library is a 422."""
    return problem(400 if isinstance(err, ConfigError) else 422, type(err).__name__, str(err))
