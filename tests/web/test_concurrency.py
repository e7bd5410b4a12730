"""50 webhook deliveries at once, interleaved with queries and hook pushes into the same log."""

from __future__ import annotations

import concurrent.futures
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import Server
from tests.web.conftest import SECRET, Remote, Service, deliver, hook_pushes, push_payload, remote_pushes

REPOS = ("acme/gitops", "acme/payments")
PUSHES_PER_REPO = 25


@pytest.mark.slow
def test_concurrent_deliveries_queries_and_hook_pushes_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    remotes = {name: Remote(tmp_path / name.replace("/", "-")) for name in REPOS}
    service = Service(tmp_path, {"repositories": {name: {"url": r.url, "secret": SECRET} for name, r in remotes.items()}}).start()
    hook = Server(tmp_path / "hook", {"db": service.url})
    try:
        deliveries = remote_pushes(remotes, PUSHES_PER_REPO)
        expected = {(name, after) for name, _, after, _ in deliveries}  # the two repositories may share commit ids

        def send(item: tuple[str, str, str, str]) -> str:
            name, before, after, delivery = item
            payload = push_payload("github", "refs/heads/main", before, after, repo=name)
            response = deliver(service, "github", payload, delivery=delivery)
            assert response.status_code == 202, response.text
            return response.json()["status"]

        def query(i: int) -> int:
            route = ("/v1/changes", "/v1/resources/Deployment/shop/app-1/history", "/v1/deploys", "/readyz")[i % 4]
            return service.get(route).status_code

        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            sent = [pool.submit(send, d) for d in deliveries]
            replays = [pool.submit(send, d) for d in deliveries[::5]]  # the host redelivers some
            queries = [pool.submit(query, i) for i in range(80)]
            hooks = pool.submit(hook_pushes, hook, 4)
            statuses = Counter(f.result() for f in sent + replays)
            assert {f.result() for f in queries} == {200}
            assert hooks.result() == [0, 0, 1, 0]
        assert statuses["queued"] == len(deliveries)
        assert statuses["duplicate"] == len(replays)
        assert service.wait_idle(timeout=600) == {"queued": 0, "working": 0, "done": len(deliveries), "failed": 0}

        pushes = service.events("push")
        webhook_pushes = [p for p in pushes if p["pusher"].get("reported_by") == "github"]
        assert sorted((p["repo"], p["commit"]) for p in webhook_pushes) == sorted(expected)
        changes = service.events("change")
        recorded = Counter((c["repo"], c["commit"]) for c in changes if c["repo"] in REPOS)
        assert set(recorded) == expected and set(recorded.values()) == {1}
        hooked = [c for c in changes if c["resource"]["name"].startswith("hooked-")]
        assert sorted(c["resource"]["name"] for c in hooked) == ["hooked-0", "hooked-1", "hooked-3"]
        assert len([p for p in pushes if p["pusher"].get("reported_by") is None]) == 4
        assert service.verify().startswith("audit log verified")
        assert service.get("/v1/verify", "auditor").json()["ok"] is True
    finally:
        service.stop()
