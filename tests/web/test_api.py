"""The query and validate API over real HTTP, on a log filled through the webhook pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditsvc.audit import verify_proof
from tests.web.conftest import REPO, SECRET, Remote, Service, deliver, push_payload
from tests.web.manifests import bad_deployment, deployment

OTHER = "acme/payments"


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory):
    """Two mirrored repositories: acme/gitops with five commits in three pushes, acme/payments with one."""
    root = tmp_path_factory.mktemp("api")
    remote, other = Remote(root / "gitops"), Remote(root / "payments")
    config = {"repositories": {REPO: {"url": remote.url, "secret": SECRET}, OTHER: {"url": other.url, "secret": SECRET}}}
    service = Service(root, config).start()
    commits = [remote.commit({"apps/web.yaml": deployment("web")}, "add web")]
    pushes = [remote.push()]
    commits.append(remote.commit({"apps/web.yaml": deployment("web", replicas=2)}, "scale web"))
    commits.append(remote.commit({"apps/api.yaml": deployment("api"), "apps/db.yaml": deployment("db")}, "add api and db"))
    pushes.append(remote.push())
    commits.append(remote.commit({"apps/web.yaml": deployment("web", image="nginx:1.26", replicas=2)}, "bump web"))
    commits.append(remote.commit({"apps/api.yaml": bad_deployment("api")}, "break api"))
    pushes.append(remote.push())
    for before, after in pushes:
        deliver(service, "github", push_payload("github", "refs/heads/main", before, after, pusher="ada"))
        service.wait_idle()
    other.commit({"pay/ledger.yaml": deployment("ledger", namespace="pay")}, "add ledger")
    before, after = other.push()
    deliver(service, "gitlab", push_payload("gitlab", "refs/heads/main", before, after, repo=OTHER, pusher="bob"))
    service.wait_idle()
    service.commits = commits  # type: ignore[attr-defined]
    service.ledger = after  # type: ignore[attr-defined]
    yield service
    service.stop()


def test_history_of_a_resource_oldest_first(filled: Service) -> None:
    answer = filled.get("/v1/resources/Deployment/shop/web/history").json()
    assert [c["commit"] for c in answer["items"]] == [filled.commits[0], filled.commits[1], filled.commits[3]]
    assert [c["op"] for c in answer["items"]] == ["created", "modified", "modified"]
    assert answer["items"][2]["diff"] == [{"path": "spec.template.spec.containers[0].image", "op": "replace", "old": "nginx:1.25", "new": "nginx:1.26"}]
    assert answer["next_cursor"] is None
    assert filled.get("/v1/resources/deployment/shop/nothing/history").json() == {"items": [], "next_cursor": None}


def test_history_pages(filled: Service) -> None:
    first = filled.get("/v1/resources/Deployment/shop/web/history", limit=2).json()
    rest = filled.get("/v1/resources/Deployment/shop/web/history", limit=2, cursor=first["next_cursor"]).json()
    assert [c["commit"] for c in first["items"] + rest["items"]] == [filled.commits[0], filled.commits[1], filled.commits[3]]
    assert rest["next_cursor"] is None


def test_changes_page_through_every_change_once(filled: Service) -> None:
    everything = filled.get("/v1/changes", limit=100).json()["items"]
    assert len(everything) == 7
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = filled.get("/v1/changes", **params).json()
        seen.extend(c["seq"] for c in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["seq"] for c in everything]


def test_changes_filters(filled: Service) -> None:
    def commits(**params: str) -> list[str]:
        return [c["commit"] for c in filled.get("/v1/changes", **params).json()["items"]]

    assert commits(path="apps/api.yaml") == [filled.commits[4], filled.commits[2]]
    assert commits(field="spec.replicas") == [filled.commits[1]]
    assert commits(actor="bob") == [filled.ledger]
    assert commits(repo=OTHER) == [filled.ledger]
    assert commits(namespace="pay", kind="deployment") == [filled.ledger]
    assert commits(since="2000-01-01", until="2000-01-02") == []


def test_a_commit_with_its_push_changes_and_violations(filled: Service) -> None:
    answer = filled.get(f"/v1/commits/{filled.commits[4][:10]}").json()
    assert answer["commit"] == filled.commits[4]
    [push] = answer["pushes"]
    assert push["body"]["commits"] == filled.commits[3:5]
    assert [c["resource"]["name"] for c in answer["changes"]] == ["api"]
    [violation] = answer["violations"]
    assert violation["body"]["path"] == "apps/api.yaml"
    assert answer["deploys"] == [] and answer["overrides"] == []
    missing = filled.get("/v1/commits/" + "f" * 40)
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"
    assert filled.get("/v1/commits/not-a-sha").status_code == 400


def test_state_at_a_commit_and_at_a_time(filled: Service) -> None:
    answer = filled.get("/v1/state", at=filled.commits[2], repo=REPO).json()
    assert [r["resource"]["name"] for r in answer["items"]] == ["api", "db", "web"]
    web = answer["items"][2]
    assert web["content"]["spec"]["replicas"] == 2
    now = filled.get("/v1/state", at="2999-01-01", limit=2).json()
    rest = filled.get("/v1/state", at="2999-01-01", limit=2, cursor=now["next_cursor"]).json()
    names = [r["resource"]["name"] for r in now["items"] + rest["items"]]
    assert names == ["api", "db", "web", "ledger"]
    assert filled.get("/v1/state").status_code == 400


def test_verify_checkpoint_and_an_offline_proof(filled: Service) -> None:
    report = filled.get("/v1/verify", "auditor").json()
    assert report["ok"] is True and report["events"] >= 12
    head = filled.get("/v1/checkpoints/latest").json()
    assert head["size"] >= 12 and len(head["root"]) == 64  # access events wait for the next checkpoint
    document = filled.get("/v1/events/3/proof", "auditor").json()
    assert verify_proof(document["proof"], document["checkpoint"], document["public_key"])
    assert json.loads(document["proof"]["leaf"])["seq"] == 3
    assert filled.get("/v1/events/999999/proof", "auditor").status_code == 404


def test_validate_raw_yaml_multipart_and_limits(filled: Service, tmp_path: Path) -> None:
    raw = filled.request("POST", "/v1/validate", data=bad_deployment("api"), headers={"Content-Type": "application/yaml"})
    assert raw.status_code == 200
    result = raw.json()
    assert result["summary"]["failures"] == 2
    assert {f["rule"] for f in result["findings"]} == {"main.deny", "main.deny_latest"}
    assert all(f["path"] == "<body>" for f in result["findings"])
    other_package = filled.request("POST", "/v1/validate", params={"namespace": "elsewhere"}, data=bad_deployment("api")).json()
    assert other_package["summary"]["failures"] == 0  # the test policies are all in package main
    files = {"a": ("apps/web.yaml", deployment("web")), "b": ("apps/api.yaml", bad_deployment("api"))}
    multipart = filled.request("POST", "/v1/validate", files=files).json()
    assert multipart["summary"]["files"] == 2
    assert {f["path"] for f in multipart["findings"]} == {"apps/api.yaml"}
    # The same JSON as `auditsvc check -o json`.
    (tmp_path / "api.yaml").write_text(bad_deployment("api"))
    import subprocess
    import sys

    from tests.conftest import clean_env

    cli = subprocess.run(
        [sys.executable, "-m", "auditsvc", "check", "-o", "json", "--config", str(filled.config), "api.yaml"],
        capture_output=True, text=True, cwd=tmp_path, env=clean_env(),
    )
    over_http = filled.request("POST", "/v1/validate", params={"filename": "api.yaml"}, data=bad_deployment("api")).json()
    assert over_http == json.loads(cli.stdout)
    too_big = filled.request("POST", "/v1/validate", data=b"x" * (10 * 1024 * 1024 + 1))
    assert too_big.status_code == 413
    assert "max_body_bytes" in too_big.json()["detail"]
    assert filled.request("POST", "/v1/validate", data=b"").status_code == 400
    unknown = filled.request("POST", "/v1/validate", params={"kubernetes_version": "0.1"}, data=deployment("web"))
    assert unknown.status_code == 422


def test_errors_are_problem_documents(filled: Service) -> None:
    for path, params in (("/v1/changes", {"limit": "0"}), ("/v1/changes", {"cursor": "%%%"}), ("/v1/changes", {"since": "whenever"}), ("/v1/nothing", {})):
        response = filled.get(path, **params)
        assert response.status_code in (400, 404)
        problem = response.json()
        assert response.headers["Content-Type"] == "application/problem+json"
        assert problem["status"] == response.status_code and problem["detail"]


def test_exports_stream_each_format_and_the_bundle_verifies_offline(filled: Service, tmp_path: Path) -> None:
    from auditsvc.export import verify_bundle

    rows = filled.get("/v1/exports", "auditor", format="csv", **{"from": "1d"})
    assert rows.status_code == 200 and rows.headers["Content-Type"].startswith("text/csv")
    assert rows.text.count(REPO) >= 5 and OTHER in rows.text
    bundle = filled.get("/v1/exports", "auditor", format="bundle", repo=REPO, **{"from": "1d"})
    assert bundle.headers["Content-Disposition"] == 'attachment; filename="auditsvc-export.zip"'
    (tmp_path / "evidence.zip").write_bytes(bundle.content)
    report = verify_bundle(tmp_path / "evidence.zip")
    assert report.ok, report.problems
    assert filled.get("/v1/exports", "auditor", format="pdf", **{"from": "1d"}).status_code == 400
    assert filled.get("/v1/exports", "auditor", format="csv").json()["title"] == "Missing from"
    assert filled.get("/v1/exports", "reader", format="csv", **{"from": "1d"}).status_code == 403
    limited = filled.token("payments-auditor", "auditor", [OTHER])
    mine = filled.get("/v1/exports", limited, format="csv", **{"from": "1d"})
    assert mine.status_code == 200 and OTHER in mine.text and REPO not in mine.text
    assert filled.get("/v1/exports", limited, format="csv", repo=REPO, **{"from": "1d"}).status_code == 403
