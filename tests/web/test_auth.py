"""Tokens and roles on every route, repository-limited tokens, and the audit trail of access."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from auditsvc.web import OPENAPI
from tests.conftest import clean_env
from tests.web.conftest import REPO, SECRET, Remote, Service, deliver, push_payload
from tests.web.manifests import deployment

OTHER = "acme/payments"
# Every operation of the spec and the role it needs (None: no token, the signature authenticates).
ROUTES = {
    ("get", "/healthz"): None,
    ("get", "/readyz"): "reader",
    ("get", "/metrics"): "reader",
    ("get", "/openapi.json"): "reader",
    ("post", "/webhooks/github"): None,
    ("post", "/webhooks/gitlab"): None,
    ("post", "/webhooks/gitea"): None,
    ("post", "/webhooks/flux"): None,
    ("post", "/v1/validate"): "reader",
    ("get", "/v1/resources/{kind}/{namespace}/{name}/history"): "reader",
    ("get", "/v1/changes"): "reader",
    ("get", "/v1/commits/{sha}"): "reader",
    ("get", "/v1/state"): "reader",
    ("get", "/v1/deploys"): "reader",
    ("get", "/v1/verify"): "auditor",
    ("get", "/v1/checkpoints/latest"): "reader",
    ("get", "/v1/events/{seq}/proof"): "auditor",
    ("get", "/v1/exports"): "auditor",
    ("get", "/v1/tokens"): "admin",
    ("post", "/v1/tokens"): "admin",
    ("delete", "/v1/tokens/{name}"): "admin",
}
ROLES = ("reader", "auditor", "admin")


@pytest.fixture(scope="module")
def two_repos(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("auth")
    gitops, payments = Remote(root / "gitops"), Remote(root / "payments")
    config = {"repositories": {REPO: {"url": gitops.url, "secret": SECRET}, OTHER: {"url": payments.url, "secret": SECRET}}}
    service = Service(root, config).start()
    gitops.commit({"apps/web.yaml": deployment("web")}, "add web")
    payments.commit({"pay/ledger.yaml": deployment("ledger")}, "add ledger")
    service.shas = {}  # type: ignore[attr-defined]
    for name, remote in ((REPO, gitops), (OTHER, payments)):
        before, after = remote.push()
        service.shas[name] = after  # type: ignore[attr-defined]
        deliver(service, "github", push_payload("github", "refs/heads/main", before, after, repo=name))
    service.wait_idle()
    yield service
    service.stop()


def _concrete(path: str) -> str:
    return path.format(kind="Deployment", namespace="shop", name="nobody-such", sha="a" * 40, seq=1)


def test_the_role_table_covers_every_operation_of_the_spec() -> None:
    spec = json.loads(OPENAPI.read_text())
    operations = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert operations == set(ROUTES)


@pytest.mark.parametrize(("method", "path"), [op for op, role in ROUTES.items() if role is not None])
def test_every_route_needs_a_token_of_its_role(two_repos: Service, method: str, path: str) -> None:
    needed = ROUTES[(method, path)]
    url = _concrete(path)
    for token in (None, "asvc_not-a-token"):
        response = two_repos.request(method.upper(), url, token)
        assert response.status_code == 401, (token, response.text)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for role in ROLES:
        response = two_repos.request(method.upper(), url, role, json={})
        if ROLES.index(role) < ROLES.index(needed):
            assert response.status_code == 403, (role, response.text)
            assert response.json()["title"] == "Forbidden"
        else:
            assert response.status_code not in (401, 403), (role, response.text)


def test_healthz_needs_no_token(two_repos: Service) -> None:
    assert two_repos.get("/healthz", None).json() == {"status": "ok"}


def test_a_repository_limited_token_sees_only_its_repositories(two_repos: Service) -> None:
    team = two_repos.token("team-gitops", "auditor", [REPO])
    assert {c["repo"] for c in two_repos.get("/v1/changes", team).json()["items"]} == {REPO}
    assert two_repos.get("/v1/changes", team, repo=OTHER).status_code == 403
    assert two_repos.get("/v1/state", team, at="2999-01-01", repo=OTHER).status_code == 403
    assert {r["repo"] for r in two_repos.get("/v1/state", team, at="2999-01-01").json()["items"]} == {REPO}
    assert two_repos.get(f"/v1/commits/{two_repos.shas[OTHER]}", team).status_code == 404
    assert two_repos.get(f"/v1/commits/{two_repos.shas[REPO]}", team).status_code == 200
    assert two_repos.get("/v1/resources/Deployment/shop/ledger/history", team).json()["items"] == []
    assert len(two_repos.get("/v1/resources/Deployment/shop/ledger/history").json()["items"]) == 1
    other_seq = next(e["seq"] for e in two_repos.events("change") if e["repo"] == OTHER)
    assert two_repos.get(f"/v1/events/{other_seq}/proof", team).status_code == 404


def test_access_to_the_audit_data_is_recorded(two_repos: Service) -> None:
    two_repos.get("/v1/changes", "auditor", kind="Deployment", since="7d")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [e for e in two_repos.events("access") if e["route"] == "/v1/changes" and e["params"].get("since") == ["7d"]]
        if found:
            break
        time.sleep(0.1)
    [access] = found
    assert (access["token"], access["role"], access["method"], access["status"]) == ("test-auditor", "auditor", "GET", 200)
    assert access["params"] == {"kind": ["Deployment"], "since": ["7d"]}


def test_token_cli_prints_the_token_alone_and_revoke_stops_it(two_repos: Service) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "auditsvc", "token", *args, "--config", str(two_repos.config)],
                              capture_output=True, text=True, env=clean_env())

    created = cli("create", "--role", "reader", "--name", "dashboard", "--repo", REPO)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert created.stdout == secret + "\n" and secret.startswith("asvc_")
    assert two_repos.get("/v1/changes", secret).status_code == 200
    assert two_repos.get("/v1/changes", secret, repo=OTHER).status_code == 403
    again = cli("create", "--role", "reader", "--name", "dashboard")
    assert again.returncode == 3 and "exists" in again.stderr
    listed = two_repos.get("/v1/tokens", "admin").json()["items"]
    assert {"name": "dashboard", "role": "reader", "repos": [REPO]}.items() <= next(t for t in listed if t["name"] == "dashboard").items()
    assert secret not in json.dumps(listed)
    assert cli("revoke", "dashboard").returncode == 0
    assert two_repos.get("/v1/changes", secret).status_code == 401
    assert cli("revoke", "dashboard").returncode == 3


def test_admins_manage_tokens_over_http(two_repos: Service) -> None:
    created = two_repos.request("POST", "/v1/tokens", "admin", json={"name": "ci", "role": "reader"})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert two_repos.get("/v1/changes", secret).status_code == 200
    assert two_repos.request("DELETE", "/v1/tokens/ci", "admin").status_code == 204
    assert two_repos.get("/v1/changes", secret).status_code == 401
    assert two_repos.request("POST", "/v1/tokens", "admin", json={"name": "x", "role": "root"}).status_code == 400
