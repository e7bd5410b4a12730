"""Flux notification-controller events (generic and generic-hmac providers) against the real service."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import clean_env
from tests.web.conftest import REPO, SECRET, Remote, Service, deliver, push_payload
from tests.web.manifests import deployment

FLUX_SECRET = "flux-hmac-key"


def flux_event(revision: str, message: str, timestamp: str, legacy: bool = False, name: str = "apps", severity: str = "info") -> dict[str, Any]:
    """What notification-controller POSTs; older controllers prefix the revision key with the API group."""
    key = "kustomize.toolkit.fluxcd.io/revision" if legacy else "revision"
    return {
        "involvedObject": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "name": name,
                           "namespace": "flux-system", "uid": "7d0cdc51-ddcf-4743-b223-83ca5c699632"},
        "severity": severity,
        "timestamp": timestamp,
        "message": message,
        "reason": "ReconciliationSucceeded",
        "metadata": {key: revision, "summary": "apps"},
        "reportingController": "kustomize-controller",
        "reportingInstance": "kustomize-controller-7f5d6c9b8-x2x4z",
    }


def send(service: Service, event: dict[str, Any], secret: str | None = FLUX_SECRET, cluster: str | None = None) -> requests.Response:
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Signature"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if cluster:
        headers["X-Auditsvc-Cluster"] = cluster
    return service.request("POST", "/webhooks/flux", None, data=body, headers=headers)


@pytest.fixture
def flux_service(tmp_path: Path, remote: Remote):
    config = {"repositories": {REPO: {"url": remote.url, "secret": SECRET}}, "flux": {"secret": FLUX_SECRET, "cluster": "production"}}
    running = Service(tmp_path, config).start()
    yield running
    running.stop()


@pytest.mark.parametrize("legacy", [False, True], ids=["main@sha1:sha", "main/sha"])
def test_a_deploy_is_linked_to_its_commit_and_repository(flux_service: Service, remote: Remote, legacy: bool) -> None:
    remote.commit({"apps/web.yaml": deployment("web")}, "add web")
    before, after = remote.push()
    deliver(flux_service, "github", push_payload("github", "refs/heads/main", before, after))
    flux_service.wait_idle()
    revision = f"main/{after}" if legacy else f"main@sha1:{after}"
    response = send(flux_service, flux_event(revision, "Deployment/shop/web created", "2026-11-27T10:00:00+01:00", legacy))
    assert response.status_code == 202
    assert response.json()["type"] == "deploy"
    [deploy] = flux_service.events("deploy")
    assert (deploy["repo"], deploy["ref"], deploy["commit"]) == (REPO, None, after)
    assert deploy["cluster"] == "production"
    assert deploy["object"] == {"kind": "Kustomization", "namespace": "flux-system", "name": "apps"}
    assert (deploy["revision"], deploy["reported_at"], deploy["source"]) == (revision, "2026-11-27T09:00:00Z", "flux")
    assert (deploy["reason"], deploy["severity"], deploy["message"]) == ("ReconciliationSucceeded", "info", "Deployment/shop/web created")


def test_signatures_are_checked_when_a_secret_is_set(flux_service: Service) -> None:
    event = flux_event("main@sha1:" + "a" * 40, "Deployment/shop/web configured", "2026-11-27T09:00:00Z")
    assert send(flux_service, event, secret="wrong").status_code == 401
    assert send(flux_service, event, secret=None).status_code == 401
    assert flux_service.events() == []
    assert send(flux_service, event).status_code == 202
    # Flux resends: the same event adds nothing.
    assert send(flux_service, event).json()["seq"] == 1
    assert len(flux_service.events()) == 1


def test_configured_again_at_an_applied_revision_is_drift(flux_service: Service) -> None:
    applied = "main@sha1:" + "b" * 40
    first = send(flux_service, flux_event(applied, "Deployment/shop/web configured", "2026-11-27T09:00:00Z"))
    unchanged = send(flux_service, flux_event(applied, "Deployment/shop/web unchanged", "2026-11-27T09:10:00Z"))
    drift = send(flux_service, flux_event(applied, "Deployment/shop/web configured", "2026-11-27T09:20:00Z"))
    other_cluster = send(flux_service, flux_event(applied, "Deployment/shop/web configured", "2026-11-27T09:25:00Z"), cluster="staging")
    newer = send(flux_service, flux_event("main@sha1:" + "c" * 40, "Deployment/shop/web configured", "2026-11-27T09:30:00Z"))
    types = [r.json()["type"] for r in (first, unchanged, drift, other_cluster, newer)]
    assert types == ["deploy", "deploy", "drift", "deploy", "deploy"]
    [recorded] = flux_service.events("drift")
    assert (recorded["cluster"], recorded["commit"], recorded["reported_at"]) == ("production", "b" * 40, "2026-11-27T09:20:00Z")


def test_when_a_commit_reached_each_cluster_and_the_lead_time(flux_service: Service, remote: Remote) -> None:
    first = remote.commit({"apps/web.yaml": deployment("web")}, "add web")
    tip = remote.commit({"apps/web.yaml": deployment("web", replicas=3)}, "scale web")
    before, after = remote.push()
    assert after == tip
    deliver(flux_service, "gitlab", push_payload("gitlab", "refs/heads/main", before, after))
    flux_service.wait_idle()
    send(flux_service, flux_event(f"main@sha1:{tip}", "Deployment/shop/web created", "2099-01-01T00:00:00Z"), cluster="staging")
    send(flux_service, flux_event(f"main/{tip}", "Deployment/shop/web created", "2099-01-01T01:00:00Z"))
    # The first commit reached the clusters with the push's tip.
    answer = flux_service.get("/v1/deploys", commit=first).json()
    assert [(d["body"]["cluster"], d["commit"]) for d in answer["items"]] == [("staging", tip), ("production", tip)]
    lead = answer["lead_time"]
    assert lead["commit"] == first and lead["pushed_at"] is not None
    clusters = {c["cluster"]: c for c in lead["clusters"]}
    assert clusters["staging"]["deployed_at"] == "2099-01-01T00:00:00Z"
    assert clusters["production"]["push_to_deploy_seconds"] - clusters["staging"]["push_to_deploy_seconds"] == 3600
    assert flux_service.get("/v1/deploys", cluster="staging").json()["items"][0]["body"]["cluster"] == "staging"
    commit = flux_service.get(f"/v1/commits/{tip}").json()
    assert [d["body"]["cluster"] for d in commit["deploys"]] == ["staging", "production"]
    # The CLI answers from the same library functions.
    cli = subprocess.run(
        [sys.executable, "-m", "auditsvc", "deploys", "--commit", first, "-o", "json", "--config", str(flux_service.config)],
        capture_output=True, text=True, env=clean_env(),
    )
    assert json.loads(cli.stdout) == {"items": answer["items"], "lead_time": lead}
    text = subprocess.run(
        [sys.executable, "-m", "auditsvc", "deploys", "--cluster", "staging", "--config", str(flux_service.config)],
        capture_output=True, text=True, env=clean_env(),
    ).stdout
    assert text.startswith(f"2099-01-01T00:00:00Z  staging  deploy  Kustomization/flux-system/apps  {tip[:12]}  Deployment/shop/web created")


def test_bad_events_are_refused_clearly(flux_service: Service) -> None:
    for event in ({"message": "no object"}, {**flux_event("main@sha1:" + "d" * 40, "x", "yesterday")}):
        response = send(flux_service, event)
        assert response.status_code == 400
        assert response.json()["title"] == "Not a Flux event"
    assert flux_service.events() == []
