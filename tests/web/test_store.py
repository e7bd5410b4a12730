"""The service's own state: the delivery queue's claims, retries and restarts; hashed tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditsvc.errors import ConfigError
from auditsvc.web import store as store_module
from auditsvc.web.store import MAX_ATTEMPTS, ServiceStore


def test_deliveries_are_claimed_oldest_first_once_each(tmp_path: Path) -> None:
    with ServiceStore.open(tmp_path) as store, ServiceStore.open(tmp_path) as other_worker:
        assert store.enqueue("github:1", "github", {"n": 1})
        assert store.enqueue("github:2", "github", {"n": 2})
        assert not store.enqueue("github:1", "github", {"n": 1})  # a redelivery
        first, second = store.claim(), other_worker.claim()
        assert (first.payload, second.payload) == ({"n": 1}, {"n": 2})
        assert store.claim() is None
        store.finish(first, {"events": 3})
        assert store.queue_depth() == {"queued": 0, "working": 1, "done": 1, "failed": 0}
        assert store.release_claims() == 1  # what start-up does: no worker is working any more
        again = store.claim()
        assert (again.id, again.attempts) == ("github:2", 2)


def test_a_failed_delivery_waits_before_its_retry_and_is_kept_after_the_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ServiceStore.open(tmp_path) as store:
        store.enqueue("gitlab:1", "gitlab", {})
        store.finish(store.claim(), {"failure": "remote unreachable"})
        assert store.claim() is None  # not before RETRY_SECONDS
        assert store.queue_depth()["queued"] == 1
        monkeypatch.setattr(store_module, "RETRY_SECONDS", 0)
        store.enqueue("gitlab:2", "gitlab", {})
        for attempt in range(1, MAX_ATTEMPTS + 1):
            delivery = store.claim()
            assert (delivery.id, delivery.attempts) == ("gitlab:2", attempt)
            store.finish(delivery, {"failure": "remote unreachable"})
        assert store.claim() is None
        assert store.queue_depth() == {"queued": 1, "working": 0, "done": 0, "failed": 1}


def test_tokens_are_stored_hashed_and_revoked_at_once(tmp_path: Path) -> None:
    with ServiceStore.open(tmp_path) as store:
        secret = store.create_token("dashboard", "reader", ["acme/gitops", "acme/gitops"])
        token = store.token(secret)
        assert (token.name, token.role, token.repos) == ("dashboard", "reader", ("acme/gitops",))
        assert token.allows("reader") and not token.allows("auditor")
        assert token.sees("acme/gitops") and not token.sees("acme/payments")
        assert store.token(secret + "x") is None
        with pytest.raises(ConfigError, match="exists"):
            store.create_token("dashboard", "admin")
        with pytest.raises(ConfigError, match="role must be one of"):
            store.create_token("x", "root")
        assert store.revoke_token("dashboard") and not store.revoke_token("dashboard")
        assert store.token(secret) is None
    assert secret.encode() not in (tmp_path / "service.db").read_bytes()
