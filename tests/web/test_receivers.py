"""Three receivers on one PostgreSQL audit log: `auditsvc serve` three times (each its own state
directory, as on three hosts), with webhook deliveries, redeliveries to another receiver, Flux
events and hook pushes driven at all of them at once."""

from __future__ import annotations

import concurrent.futures
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import PgSchema, Server
from tests.web.conftest import SECRET, Remote, Service, deliver, hook_pushes, push_payload, remote_pushes
from tests.web.test_flux import FLUX_SECRET, flux_event, send

REPOS = ("acme/gitops", "acme/payments")
PUSHES_PER_REPO = 12


@pytest.mark.slow
def test_three_receivers_on_one_postgresql_log_lose_and_duplicate_nothing(tmp_path: Path, pg_schema: PgSchema) -> None:
    key = tmp_path / "signing.key"  # every writer signs checkpoints with the same key
    url = pg_schema.url(key)
    remotes = {name: Remote(tmp_path / name.replace("/", "-")) for name in REPOS}
    config = {
        "repositories": {name: {"url": r.url, "secret": SECRET} for name, r in remotes.items()},
        "flux": {"secret": FLUX_SECRET, "cluster": "production"},
    }
    receivers = [Service(tmp_path / f"receiver-{n}", config, db=url).start() for n in range(3)]
    hook = Server(tmp_path / "hook", {"db": url})
    try:
        deliveries = remote_pushes(remotes, PUSHES_PER_REPO)
        expected = {(name, after) for name, _, after, _ in deliveries}  # the two repositories may share commit ids

        def send_push(n: int, item: tuple[str, str, str, str]) -> str:
            name, before, after, delivery = item
            payload = push_payload("github", "refs/heads/main", before, after, repo=name)
            response = deliver(receivers[n % 3], "github", payload, delivery=delivery)
            assert response.status_code == 202, response.text
            return response.json()["status"]

        def send_flux(n: int, after: str) -> int:
            event = flux_event(f"main@sha1:{after}", "Deployment/shop/app-1 created", f"2026-11-27T10:{n:02d}:00Z")
            return send(receivers[n % 3], event).status_code

        flux_revisions = [after for _, _, after, _ in deliveries[::4]]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            sent = [pool.submit(send_push, n, d) for n, d in enumerate(deliveries)]
            # The host redelivers some, and a load balancer sends them to another receiver.
            again = [pool.submit(send_push, n + 1, d) for n, d in enumerate(deliveries) if n % 3 == 0]
            flux = [pool.submit(send_flux, n, after) for n, after in enumerate(flux_revisions)]
            flux_again = [pool.submit(send_flux, n, after) for n, after in enumerate(flux_revisions)]
            hooks = pool.submit(hook_pushes, hook, 4)
            statuses = Counter(f.result() for f in sent + again)
            assert {f.result() for f in flux + flux_again} == {202}
            assert hooks.result() == [0, 0, 1, 0]
        assert statuses["queued"] == len(deliveries) + len(again)  # each receiver dedupes its own deliveries only
        for receiver in receivers:
            depth = receiver.wait_idle(timeout=600)
            assert depth["failed"] == 0 and depth["queued"] == depth["working"] == 0

        events = receivers[0].events()
        pushes = [e for e in events if e["type"] == "push"]
        webhook_pushes = Counter((p["repo"], p["commit"]) for p in pushes if p["pusher"].get("reported_by") == "github")
        assert set(webhook_pushes) == expected and set(webhook_pushes.values()) == {1}  # replays added nothing
        changes = Counter((c["repo"], c["commit"], c["path"]) for c in events if c["type"] == "change" and c["repo"] in REPOS)
        assert {(repo, commit) for repo, commit, _ in changes} == expected and set(changes.values()) == {1}
        deploys = Counter(e["commit"] for e in events if e["type"] == "deploy")
        assert deploys == Counter(flux_revisions)  # each Flux event once, whichever receiver got it
        hooked = sorted(e["resource"]["name"] for e in events if e["type"] == "change" and e["resource"]["name"].startswith("hooked-"))
        assert hooked == ["hooked-0", "hooked-1", "hooked-3"]
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert receivers[1].verify().startswith("audit log verified")
        assert all(r.get("/v1/verify", "auditor").json()["ok"] is True for r in receivers)
    finally:
        for receiver in receivers:
            receiver.stop()
