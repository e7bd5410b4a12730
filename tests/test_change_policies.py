"""Change-aware policies through the installed hook: real pushes, the bundled `change` rules and a
test rule that reports the input it sees."""

from __future__ import annotations

from pathlib import Path

import pytest

import json

from conftest import DATA, Server, commit

ROOT = Path(__file__).resolve().parent.parent
WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {app}}}
  template:
    metadata:
      labels: {{app: {app}}}
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: web
          image: nginx:1.27
"""
NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
"""


@pytest.fixture
def server(tmp_path: Path) -> Server:
    policies = [str(DATA / "policies"), str(DATA / "change_policies"), str(ROOT / "policies" / "change"), str(ROOT / "policies" / "lib")]
    return Server(tmp_path, {"policies": policies})


def test_a_change_rule_sees_operation_resource_commit_and_push(server):
    server.commit({"apps/web.yaml": WEB.format(replicas=2, app="web")}, "add web", author="Ada <ada@example.com>")
    proc = server.push("-o", "ticket=42", "origin", "main:refs/heads/feature", user="bob")
    assert proc.returncode == 0, proc.stderr
    assert (
        "WARN apps/web.yaml:1 [commit" in proc.stderr
        and "change.warn_echo: Deployment/shop/web: created Deployment shop web apps/web.yaml author ada@example.com "
        "signature N ref refs/heads/feature pusher bob options ticket=42 diff " in proc.stderr
    )
    server.commit({"apps/web.yaml": WEB.format(replicas=3, app="web")}, "scale")
    proc = server.push("origin", "main:refs/heads/feature", user="bob")
    assert "change.warn_echo: Deployment/shop/web: modified Deployment shop web apps/web.yaml" in proc.stderr
    assert "diff spec.replicas" in proc.stderr


def test_a_rule_on_the_previous_version_refuses_and_a_push_option_allows(server):
    server.commit({"apps/web.yaml": WEB.format(replicas=2, app="web")}, "add web")
    server.ok("origin", "main")
    commit = server.commit({"apps/web.yaml": WEB.format(replicas=0, app="web")}, "scale to zero")
    proc = server.push("origin", "main")
    assert proc.returncode != 0
    assert f"FAIL apps/web.yaml:7 [commit {commit[:12]}] change.deny_scale_to_zero: Deployment/shop/web: scaling to zero needs -o scale-to-zero" in proc.stderr
    [_, refused] = server.events("push")
    assert refused["accepted"] is False and refused["change_policy_digest"]
    assert [f["rule"] for f in refused["findings"] if f["outcome"] == "failure"] == ["change.deny_scale_to_zero"]
    server.ok("-o", "scale-to-zero", "origin", "main")


def test_bundled_immutable_selector_rule_names_the_line(server):
    server.commit({"apps/web.yaml": WEB.format(replicas=2, app="web")}, "add web")
    server.ok("origin", "main")
    commit = server.commit({"apps/web.yaml": WEB.format(replicas=2, app="web-v2")}, "new selector")
    proc = server.push("origin", "main")
    assert proc.returncode != 0
    assert (
        f"FAIL apps/web.yaml:8 [commit {commit[:12]}] change.deny_immutable_field: Deployment/shop/web: "
        "spec.selector cannot change on an existing Deployment" in proc.stderr
    )


def test_bundled_namespace_deletion_is_refused_unless_overridden(server):
    server.commit({"cluster/ns.yaml": NAMESPACE}, "add namespace")
    server.ok("origin", "main")
    commit = server.commit({"cluster/ns.yaml": None}, "drop namespace")
    proc = server.push("origin", "main", user="mallory")
    assert proc.returncode != 0
    assert f"FAIL cluster/ns.yaml:1 [commit {commit[:12]}] change.deny_destructive_delete: Namespace/shop: deleting this Namespace" in proc.stderr
    server.ok("-o", "override=CHG-9: decommission shop", "origin", "main", user="alice")
    [override] = server.events("override")
    assert override["reason"] == "CHG-9: decommission shop"
    assert [f["rule"] for f in override["overridden"]] == ["change.deny_destructive_delete"]


def test_change_rules_are_not_state_rules(run_cli, tmp_path):
    """--all-namespaces evaluates every state package, not the change package against a manifest."""
    manifest = tmp_path / "web.yaml"
    manifest.write_text(WEB.format(replicas=0, app="web"))
    proc = run_cli("check", "--all-namespaces", "-p", str(DATA / "change_policies"), "-p", str(DATA / "policies"), "-o", "json", str(manifest))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "change." not in proc.stdout


def test_range_mode_runs_the_change_rules_over_the_range(work_repo, run_cli):
    """The CI door: check --base/--head sees each commit's changes, with the range as the push."""
    base = commit(work_repo, {"apps/web.yaml": WEB.format(replicas=2, app="web"), "cluster/ns.yaml": NAMESPACE}, "base")
    selector = commit(work_repo, {"apps/web.yaml": WEB.format(replicas=2, app="v2")}, "new selector")
    dropped = commit(work_repo, {"cluster/ns.yaml": None}, "drop namespace")
    policies = ["-p", str(ROOT / "policies" / "change"), "-p", str(ROOT / "policies" / "lib"), "-p", str(DATA / "change_policies")]
    proc = run_cli("check", "--repo", str(work_repo), "--base", base, *policies, "-o", "json", cwd=work_repo)
    assert proc.returncode == 1, proc.stderr
    found = {(f["rule"], f["path"], f["line"], f["commit"]) for f in json.loads(proc.stdout)["findings"] if f["rule"].startswith("change.d")}
    assert found == {
        ("change.deny_immutable_field", "apps/web.yaml", 8, selector),
        ("change.deny_destructive_delete", "cluster/ns.yaml", 1, dropped),
    }
    echo = [f["message"] for f in json.loads(proc.stdout)["findings"] if f["rule"] == "change.warn_echo"]
    assert echo == ["modified Deployment shop web apps/web.yaml author ada@example.com signature N ref refs/heads/main pusher  options  diff spec.selector.matchLabels.app,spec.template.metadata.labels.app"]
