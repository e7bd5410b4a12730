"""One recorded history for the export tests: real pushes through the installed hook, an override,
a rollback, an import, and the deploy, drift and violation events the Flux and webhook receivers
append (written here with EventDraft in the shapes those receivers use)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from auditsvc.audit import EventDraft
from auditsvc.config import load_settings
from auditsvc.export import Period, export
from auditsvc.importer import import_history

from conftest import Server
from test_queries import CONFIG, ROOT_WEB, WEB  # the same manifests as the query tests

ACTOR = {"name": "ada-auditor", "source": "test", "authenticated": True}


def flux_event(type_: str, cluster: str, commit: str, reported_at: str, reason: str, message: str, repo: str = "server") -> EventDraft:
    """A deploy or drift event as the Flux receiver records it."""
    revision = f"main@sha1:{commit}"
    target = {"kind": "Kustomization", "namespace": "flux-system", "name": "apps"}
    return EventDraft(
        type_,
        f"{type_}:{cluster}:Kustomization/flux-system/apps:{revision}:{reason}:{reported_at}",
        repo,
        None,
        commit,
        {"cluster": cluster, "object": target, "revision": revision, "reason": reason, "severity": "info",
         "message": message, "reported_at": reported_at, "source": "flux"},
    )


class Story:
    def __init__(self, server: Server, commits: dict[str, str], start: str) -> None:
        self.server = server
        self.c = commits
        self.start = start

    def period(self, repo: str | None = None) -> Period:
        return Period.parse(self.start, "now", repo)

    def export(self, format: str, repo: str | None = None) -> bytes:
        with self.server.log() as log:
            return b"".join(export(log, format, self.period(repo), actor=ACTOR, origin="test.example/audit"))

    def bundle(self, path: Path, repo: str | None = None) -> Path:
        path.write_bytes(self.export("bundle", repo))
        return path


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> Story:
    """alice creates web and cfg, bob bumps web, mallory's run-as-root push is refused, alice
    overrides it (INC-7), bob rolls it back; Flux deploys to prod and staging and reports drift;
    a webhook saw a violation land on a side repo; the same history is imported as `legacy`."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now - datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def at(minutes: int) -> str:
        return (now + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")

    server = Server(tmp_path_factory.mktemp("export"))
    c: dict[str, str] = {}
    c["create"] = server.commit(
        {"apps/web.yaml": WEB.format(replicas=2, image="nginx:1.27"), "apps/cfg.yaml": CONFIG.format(name="cfg", mode="a")}, "create shop"
    )
    server.ok("origin", "main", user="alice")
    c["bump"] = server.commit({"apps/web.yaml": WEB.format(replicas=3, image="nginx:1.28")}, "bump web", author="Eve Editor <eve@example.com>")
    server.ok("origin", "main", user="bob")
    c["root"] = server.commit({"apps/web.yaml": ROOT_WEB.format(replicas=3, image="nginx:1.28")}, "run web as root")
    assert server.push("origin", "main", user="mallory").returncode != 0
    server.ok("-o", "override=INC-7: hotfix for the login outage", "origin", "main", user="alice")
    c["revert"] = server.commit({"apps/web.yaml": WEB.format(replicas=3, image="nginx:1.28")}, "Revert \"run web as root\"")
    server.ok("origin", "main", user="bob")
    with server.log() as log:
        log.append(
            [
                flux_event("deploy", "prod", c["create"], at(5), "ReconciliationSucceeded", "Deployment/shop/web created"),
                flux_event("deploy", "staging", c["create"], at(2), "ReconciliationSucceeded", "Deployment/shop/web created"),
                flux_event("deploy", "prod", c["create"], at(9), "ReconciliationSucceeded", "Deployment/shop/web configured"),
                flux_event("deploy", "prod", c["root"], at(60), "ReconciliationSucceeded", "Deployment/shop/web configured"),
                flux_event("drift", "prod", c["revert"], at(120), "ReconciliationSucceeded", "Deployment/shop/web configured"),
            ]
        )
        side = log.put_content({"kind": "ConfigMap", "data": {"mode": "x"}})
        pusher = {"name": "octo", "source": "github", "authenticated": True}
        resource = {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "side", "name": "flags"}
        finding = {"outcome": "failure", "severity": "deny", "rule": "main.deny", "message": "flags must not be x",
                   "path": "flags.yaml", "line": 1, "resource": "ConfigMap/side/flags", "field": None, "commit": "f" * 40, "waiver": None}
        log.append(
            [
                EventDraft("change", f"change:side:{'f' * 40}:flags.yaml:v1/ConfigMap/side/flags", "side", "refs/heads/main", "f" * 40,
                           {"op": "created", "path": "flags.yaml", "old_path": None, "resource": resource, "before": None, "after": side,
                            "diff": [], "author": {"name": "Octo Cat", "email": "octo@example.com", "time": start},
                            "committer": {"name": "Octo Cat", "email": "octo@example.com", "time": start}, "subject": "flags",
                            "signature": {"status": "G", "signer": "octo@example.com", "key": "SHA256:abc"}, "pusher": pusher}),
                EventDraft("violation", f"violation:side:{'f' * 40}:flags.yaml:v1/ConfigMap/side/flags", "side", "refs/heads/main",
                           "f" * 40, {"path": "flags.yaml", "resource": resource, "findings": [finding], "pusher": pusher, "source": "github"}),
            ]
        )
        import_history(log, str(server.git_dir), load_settings(str(server.config)), repo="legacy")
    return Story(server, c, start)
