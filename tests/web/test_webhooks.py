"""Push webhooks from GitHub, GitLab and Gitea, against the real service and a real remote."""

from __future__ import annotations

import pytest

from tests.web.conftest import REPO, ZERO, Remote, Service, deliver, push_payload
from tests.web.manifests import bad_deployment, deployment

HOSTS = ("github", "gitlab", "gitea")


@pytest.mark.parametrize("host", HOSTS)
def test_signed_push_is_recorded_with_the_pusher_the_host_reports(service: Service, remote: Remote, host: str) -> None:
    remote.commit({"apps/web.yaml": deployment("web")}, "add web")
    before, after = remote.push()
    response = deliver(service, host, push_payload(host, "refs/heads/main", before, after, pusher="ada"))
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert service.wait_idle()["done"] == 1
    [push] = service.events("push")
    assert (push["repo"], push["ref"], push["commit"], push["accepted"]) == (REPO, "refs/heads/main", after, True)
    assert push["commits"] == [after]
    assert push["pusher"] == {"name": "ada", "source": host, "authenticated": False, "reported_by": host,
                              "email": "ada@example.com", "id": "42"}
    [change] = service.events("change")
    assert (change["commit"], change["op"], change["resource"]["name"]) == (after, "created", "web")
    assert change["pusher"]["reported_by"] == host
    assert service.events("violation") == []


@pytest.mark.parametrize("host", HOSTS)
def test_wrong_missing_and_unknown_signatures_are_refused_and_record_nothing(service: Service, remote: Remote, host: str) -> None:
    remote.commit({"apps/web.yaml": deployment("web")}, "add web")
    before, after = remote.push()
    payload = push_payload(host, "refs/heads/main", before, after)
    wrong = deliver(service, host, payload, secret="not-the-secret")
    unknown = deliver(service, host, push_payload(host, "refs/heads/main", before, after, repo="acme/other"))
    missing = service.request("POST", f"/webhooks/{host}", None, json=payload)
    for response in (wrong, unknown, missing):
        assert response.status_code == 401
        assert response.headers["Content-Type"] == "application/problem+json"
    assert service.queue() == {"queued": 0, "working": 0, "done": 0, "failed": 0}
    assert service.events() == []


@pytest.mark.parametrize("host", HOSTS)
def test_a_replayed_delivery_adds_nothing(service: Service, remote: Remote, host: str) -> None:
    remote.commit({"apps/web.yaml": deployment("web")}, "add web")
    before, after = remote.push()
    payload = push_payload(host, "refs/heads/main", before, after)
    assert deliver(service, host, payload, delivery="d-1").json()["status"] == "queued"
    assert deliver(service, host, payload, delivery="d-1").json()["status"] == "duplicate"
    service.wait_idle()
    recorded = service.events()
    # The same push under a new delivery id (a host retry) is recorded again, and adds nothing.
    assert deliver(service, host, payload, delivery="d-2").json()["status"] == "queued"
    assert service.wait_idle()["done"] == 2
    assert service.events() == recorded
    assert service.verify().startswith("audit log verified")


def test_a_truncated_commit_list_still_records_every_commit_from_the_mirror(service: Service, remote: Remote) -> None:
    remote.commit({"apps/web.yaml": deployment("web")}, "first")
    before, first = remote.push()
    deliver(service, "github", push_payload("github", "refs/heads/main", before, first, [first]))
    commits = [remote.commit({f"apps/app-{i}.yaml": deployment(f"app-{i}")}, f"app {i}") for i in range(25)]
    before, after = remote.push()
    # GitHub lists at most 20 commits, GitLab 20: the payload names only the last ones.
    deliver(service, "github", push_payload("github", "refs/heads/main", before, after, commits[-20:]))
    assert service.wait_idle()["done"] == 2
    pushes = service.events("push")
    assert pushes[-1]["commits"] == commits
    changed = {c["commit"] for c in service.events("change")}
    assert changed == {first, *commits}


def test_a_change_that_landed_without_passing_is_a_violation(service: Service, remote: Remote) -> None:
    good = remote.commit({"apps/web.yaml": deployment("web")}, "good")
    bad = remote.commit({"apps/api.yaml": bad_deployment("api")}, "bad")
    before, after = remote.push()
    deliver(service, "gitea", push_payload("gitea", "refs/heads/main", before, after, pusher="mallory"))
    service.wait_idle()
    [push] = service.events("push")
    assert push["accepted"] is True  # it landed: the host accepted it
    assert {f["rule"] for f in push["findings"]} == {"main.deny", "main.deny_latest"}
    [violation] = service.events("violation")
    assert (violation["commit"], violation["path"], violation["source"]) == (bad, "apps/api.yaml", "gitea")
    assert violation["resource"] == {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "api"}
    assert sorted(f["rule"] for f in violation["findings"]) == ["main.deny", "main.deny_latest"]
    assert violation["pusher"]["name"] == "mallory"
    assert good not in {v["commit"] for v in service.events("violation")}


def test_branches_tags_deletes_and_out_of_order_deliveries(service: Service, remote: Remote) -> None:
    remote.commit({"apps/web.yaml": deployment("web")}, "first")
    main_0 = remote.push()
    git_feature = remote.commit({"apps/web.yaml": deployment("web", replicas=2)}, "scale")
    feature = remote.push("refs/heads/feature")
    main_1 = remote.push()  # fast-forward main onto the feature commit
    remote.push("refs/tags/v1")
    delete_feature = (feature[1], ZERO)
    # Delivered out of order: main's second push before the feature branch push.
    for ref, (before, after) in (("refs/heads/main", main_0), ("refs/heads/main", main_1), ("refs/heads/feature", feature),
                                 ("refs/tags/v1", (ZERO, git_feature)), ("refs/heads/feature", delete_feature)):
        assert deliver(service, "github", push_payload("github", ref, before, after)).status_code == 202
    assert service.wait_idle()["done"] == 5
    assert {c["commit"] for c in service.events("change")} == {main_0[1], git_feature}
    assert len(service.events("push")) == 5
    assert service.verify().startswith("audit log verified")


def test_main_fast_forwarded_onto_a_branch_is_judged_and_recorded_for_main(service: Service, remote: Remote) -> None:
    from auditsvc import queries
    from auditsvc.audit import open_log

    good = remote.commit({"apps/web.yaml": deployment("web")}, "good")
    main_0 = remote.push()
    bad = remote.commit({"apps/api.yaml": bad_deployment("api")}, "bad")
    feature = remote.push("refs/heads/feature")
    main_1 = remote.push()  # fast-forward main onto the feature branch's commit
    for ref, (before, after), pusher in (("refs/heads/main", main_0, "ada"), ("refs/heads/feature", feature, "bob"),
                                         ("refs/heads/main", main_1, "ada")):
        deliver(service, "github", push_payload("github", ref, before, after, pusher=pusher))
        assert service.wait_idle()["failed"] == 0  # in order: each delivery judged against the mirror as it was
    main_push = service.events("push")[-1]
    assert (main_push["ref"], main_push["commits"]) == ("refs/heads/main", [bad])
    assert {f["rule"] for f in main_push["findings"]} == {"main.deny", "main.deny_latest"}
    changes = [(c["ref"], c["commit"], c["resource"]["name"], c["pusher"]["name"]) for c in service.events("change")]
    assert changes == [("refs/heads/main", good, "web", "ada"), ("refs/heads/feature", bad, "api", "bob"),
                       ("refs/heads/main", bad, "api", "ada")]
    assert [(v["ref"], v["commit"]) for v in service.events("violation")] == [("refs/heads/feature", bad), ("refs/heads/main", bad)]
    with open_log(service.url) as log:
        state = queries.state(log, bad, ref="main")
    assert [r.label for r in state.resources] == ["Deployment/shop/api", "Deployment/shop/web"]
    recorded = service.events()
    deliver(service, "github", push_payload("github", "refs/heads/main", *main_1, pusher="ada"))  # a host retry
    service.wait_idle()
    assert service.events() == recorded
    assert service.verify().startswith("audit log verified")


def test_ping_and_other_events_record_nothing(service: Service) -> None:
    import hashlib
    import hmac
    import json

    from tests.web.conftest import SECRET

    body = json.dumps({"zen": "Keep it logically awesome.", "repository": {"full_name": REPO}}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    for event, status in (("ping", 200), ("issues", 202)):
        headers = {"X-GitHub-Event": event, "X-Hub-Signature-256": signature, "Content-Type": "application/json"}
        assert service.request("POST", "/webhooks/github", None, data=body, headers=headers).status_code == status
    assert service.queue()["queued"] == 0
    assert service.events() == []


@pytest.mark.parametrize("host", HOSTS)
def test_a_signed_payload_that_is_not_a_push_is_a_clear_400(service: Service, host: str) -> None:
    payload = push_payload(host, "main", "nope", ZERO)
    response = deliver(service, host, payload)
    assert response.status_code == 400
    assert response.json()["detail"] == "the payload has no ref such as refs/heads/main"
    assert service.queue()["queued"] == 0

