"""Operations: the OpenAPI document matches the routes, schemathesis finds no 5xx, metrics,
readiness, JSON logs, and a restart with deliveries queued loses none."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from openapi_spec_validator import validate

from auditsvc.config import Settings
from auditsvc.web import OPENAPI, create_app, route_template
from tests.conftest import clean_env
from tests.web.conftest import REPO, SECRET, Remote, Service, deliver, push_payload
from tests.web.manifests import bad_deployment, deployment


def test_the_openapi_document_names_exactly_the_routes_of_the_app(tmp_path: Path) -> None:
    app = create_app(Settings(db=f"sqlite:///{tmp_path / 'audit.db'}"))
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = route_template(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            hosts = ("github", "gitlab", "gitea") if "{host}" in path else (None,)
            served |= {(method.lower(), path.replace("{host}", h) if h else path) for h in hosts}
    spec = json.loads(OPENAPI.read_text())
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # a valid OpenAPI 3.1 document, or it raises naming the fault
    documented = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert documented == served


def test_schemathesis_finds_no_server_error(service: Service, tmp_path: Path) -> None:
    """Property-based requests from the OpenAPI document, a few per operation: never a 5xx."""

    def run(*selection: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "schemathesis"), "run", str(OPENAPI), "--url", service.base,
             "-c", "not_a_server_error", "-H", f"Authorization: Bearer {service.tokens['admin']}",
             "-n", "5", "--seed", "1", "-w", "1", "--no-color", "--phases", "examples,coverage,fuzzing",
             "--generation-database", "none", *selection],
            capture_output=True, text=True, env=clean_env(), cwd=tmp_path, timeout=300,
        )

    # Token revocation last and alone: schemathesis learns token names from GET /v1/tokens.
    everything = run("--exclude-path", "/v1/tokens/{name}")
    assert everything.returncode == 0, everything.stdout[-4000:]
    revoke = run("--include-path", "/v1/tokens/{name}")
    assert revoke.returncode == 0, revoke.stdout[-4000:]
    assert '"status": 5' not in service.log_path.read_text()


def test_metrics_readiness_and_json_logs(service: Service, remote: Remote) -> None:
    remote.commit({"apps/api.yaml": bad_deployment("api")}, "bad")
    before, after = remote.push()
    deliver(service, "github", push_payload("github", "refs/heads/main", before, after))
    service.wait_idle()
    service.get("/v1/changes")
    service.request("POST", "/v1/validate", data=deployment("web"))
    ready = service.get("/readyz").json()
    assert ready["status"] == "ready" and ready["queue"]["done"] == 1
    text = service.get("/metrics").text
    assert 'auditsvc_http_requests_total{method="GET",route="/v1/changes",status="200"} 1.0' in text
    assert re.search(r'auditsvc_http_request_duration_seconds_count\{route="/v1/changes"\} 1\.0', text)
    assert 'auditsvc_webhook_queue_depth{status="done"} 1.0' in text
    assert 'auditsvc_decisions_total{door="webhook",result="violation"} 1.0' in text
    assert 'auditsvc_decisions_total{door="validate",result="pass"} 1.0' in text
    lines = [json.loads(line) for line in service.log_path.read_text().splitlines() if line.startswith("{")]
    [request] = [e for e in lines if e.get("route") == "/v1/changes"]
    assert (request["status"], request["token"], request["level"]) == (200, "test-reader", "info")
    assert any(e["message"] == "delivery recorded" and e.get("violations") == 1 for e in lines)


def test_a_restart_with_deliveries_queued_loses_none(tmp_path: Path, remote: Remote) -> None:
    service = Service(tmp_path, {"repositories": {REPO: {"url": remote.url, "secret": SECRET}}}, workers=1).start()
    pushes = []
    for i in range(6):
        remote.commit({f"apps/app-{i}.yaml": deployment(f"app-{i}")}, f"app {i}")
        pushes.append(remote.push())
    sent = [after for _, after in pushes]
    for before, after in pushes:  # a burst: recording one takes longer than receiving all
        assert deliver(service, "github", push_payload("github", "refs/heads/main", before, after)).status_code == 202
    service.stop()  # at once: deliveries still queued, one may be half done
    left = service.queue()
    assert left["queued"] + left["working"] > 0
    service.start()
    try:
        assert service.wait_idle() == {"queued": 0, "working": 0, "done": 6, "failed": 0}
        assert [p["commit"] for p in service.events("push")] == sent
        assert sorted(c["commit"] for c in service.events("change")) == sorted(sent)
        assert service.verify().startswith("audit log verified")
    finally:
        service.stop()


def test_serve_starts_with_the_embedded_defaults(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditsvc", "serve", "--port", "0", "--workers", "1"],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        for line in proc.stderr:  # type: ignore[union-attr]
            if "Listening at" in line:
                break
        assert (tmp_path / "var" / "auditsvc" / "service.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


CRASHING_POLICY = """package main

import rego.v1

base contains "d" if input.kind == "Deployment"

result := {"deny": base}

deny contains "boom" if {
  batch := [r | some d in [{"kind": "Deployment"}, {"kind": "Service"}]; r := result with input as d]
  count(batch) == 2
}
"""


def test_a_policy_that_crashes_the_engine_fails_the_request_not_the_server(tmp_path: Path, remote: Remote) -> None:
    """FIELD-NOTES: valid Rego can abort rego-cpp, and with it the process that evaluates it."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "crash.rego").write_text(CRASHING_POLICY)
    config = {"policies": [str(policies)], "repositories": {REPO: {"url": remote.url, "secret": SECRET}}}
    service = Service(tmp_path, config, workers=1).start()
    try:
        response = service.request("POST", "/v1/validate", data=deployment("web"))
        assert response.status_code == 422
        assert response.json()["detail"] == "the check crashed (SIGABRT)"
        remote.commit({"apps/web.yaml": deployment("web")}, "add web")
        before, after = remote.push()
        deliver(service, "github", push_payload("github", "refs/heads/main", before, after))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = [json.loads(line) for line in service.log_path.read_text().splitlines() if line.startswith("{")]
            failures = [e for e in lines if e["message"] == "delivery failed"]
            if failures:
                break
            time.sleep(0.1)
        assert (failures[0]["error"], failures[0]["attempt"]) == ("the check crashed (SIGABRT)", 1)
        assert service.queue()["queued"] == 1  # to be tried again later
        assert service.get("/readyz").status_code == 200  # the same worker process still serves
        assert service.proc is not None and service.proc.poll() is None
        assert service.events("push") == []
    finally:
        service.stop()
