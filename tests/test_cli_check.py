"""`auditsvc check` end to end: a real process, real files, real Rego through regopy."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from conftest import DATA, commit, write

ROOT_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: apps
spec:
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: {image}
"""

NODEPORT = """
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  type: NodePort
  selector: {{app: web}}
  ports:
    - port: 80
"""


def deployment(tmp_path: Path, name: str = "web", image: str = "nginx:1.27", file: str = "deploy.yaml") -> Path:
    return write(tmp_path / file, ROOT_DEPLOYMENT.format(name=name, image=image))


def as_json(proc) -> dict:
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def test_deployment_running_as_root_fails(run_cli, tmp_path, test_policies):
    deployment(tmp_path)
    proc = run_cli("check", "deploy.yaml", "-p", test_policies)
    assert proc.returncode == 1, proc.stderr
    assert "FAIL   deploy.yaml:1  main.deny  Deployment/apps/web: Containers must not run as root" in proc.stdout
    assert proc.stdout.rstrip().endswith("1 resource in 1 file: 1 failure, 0 warnings, 0 waived")


def test_field_in_policy_message_points_at_its_line(run_cli, tmp_path, test_policies):
    deployment(tmp_path, image="nginx:latest")
    result = as_json(run_cli("check", "deploy.yaml", "-p", test_policies, "-o", "json"))
    latest = [f for f in result["findings"] if f["rule"] == "main.deny_latest"]
    assert latest == [
        {
            "outcome": "failure",
            "severity": "deny",
            "rule": "main.deny_latest",
            "message": "container web uses the :latest tag",
            "path": "deploy.yaml",
            "line": 15,
            "resource": "Deployment/apps/web",
            "field": "spec.template.spec.containers[0].image",
            "commit": "",
            "waiver": None,
        }
    ]


def test_exception_rule_waives_named_rule(run_cli, tmp_path, test_policies):
    deployment(tmp_path, name="legacy", image="nginx:latest")
    result = as_json(run_cli("check", "deploy.yaml", "-p", test_policies, "-o", "json"))
    outcomes = {f["rule"]: f["outcome"] for f in result["findings"]}
    assert outcomes == {"main.deny": "failure", "main.deny_latest": "waived"}
    assert result["summary"]["waived"] == 1


def test_warn_passes_without_fail_on_warn_and_exits_1_with_it(run_cli, tmp_path, test_policies):
    write(tmp_path / "svc.yaml", NODEPORT.format(name="web"))
    plain = run_cli("check", "svc.yaml", "-p", test_policies)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "WARN   svc.yaml:1  main.warn  Service/web: NodePort services are discouraged" in plain.stdout
    strict = run_cli("check", "svc.yaml", "-p", test_policies, "--fail-on-warn")
    assert strict.returncode == 1


def test_fail_on_warn_exits_2_on_failures(run_cli, tmp_path, test_policies):
    deployment(tmp_path)
    proc = run_cli("check", "deploy.yaml", "-p", test_policies, "--fail-on-warn")
    assert proc.returncode == 2


def test_data_file_feeds_policies(run_cli, tmp_path, test_policies):
    deployment(tmp_path, image="docker.io/library/nginx:1.27")
    write(tmp_path / "data.yaml", "registries: [registry.example.com/]\n")
    without = as_json(run_cli("check", "deploy.yaml", "-p", test_policies, "-o", "json"))
    assert "main.deny_registry" not in {f["rule"] for f in without["findings"]}
    with_data = as_json(run_cli("check", "deploy.yaml", "-p", test_policies, "--data", "data.yaml", "-o", "json"))
    messages = [f["message"] for f in with_data["findings"] if f["rule"] == "main.deny_registry"]
    assert messages == ["image docker.io/library/nginx:1.27 is not from an allowed registry"]


def test_combine_gives_policies_every_document(run_cli, tmp_path, test_policies):
    write(tmp_path / "a.yaml", NODEPORT.format(name="dup"))
    write(tmp_path / "b.yaml", NODEPORT.format(name="dup"))
    single = as_json(run_cli("check", ".", "-p", test_policies, "--namespace", "combine", "-o", "json"))
    assert single["findings"] == []
    combined = as_json(run_cli("check", ".", "-p", test_policies, "--namespace", "combine", "--combine", "-o", "json"))
    assert [f["message"] for f in combined["findings"]] == ["two Services share a name"]


def test_all_namespaces_evaluates_every_package(run_cli, tmp_path, test_policies):
    write(tmp_path / "svc.yaml", NODEPORT.format(name="web"))
    result = as_json(run_cli("check", "svc.yaml", "-p", test_policies, "--all-namespaces", "-o", "json"))
    assert {f["rule"] for f in result["findings"]} == {"main.warn"}
    result = as_json(run_cli("check", "svc.yaml", "-p", test_policies, "--namespace", "nothing-here", "-o", "json"))
    assert result["findings"] == []


def test_stdin_is_checked(run_cli, test_policies):
    proc = run_cli("check", "-", "-p", test_policies, stdin=ROOT_DEPLOYMENT.format(name="web", image="a:1").lstrip())
    assert proc.returncode == 1
    assert "<stdin>:1  main.deny" in proc.stdout


def test_crd_in_checked_set_validates_custom_resources(run_cli, tmp_path):
    write(tmp_path / "crds/widget.yaml", (DATA / "widget-crd.yaml").read_text())
    write(
        tmp_path / "apps/widget.yaml",
        """
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w}
        spec:
          size: big
          colour: red
        """,
    )
    config = write(tmp_path / "c.yaml", "policies: []\n")
    result = as_json(run_cli("check", "crds", "apps", "--config", config, "-o", "json"))
    by_line = {(f["path"], f["line"]): f["message"] for f in result["findings"]}
    assert by_line == {
        ("apps/widget.yaml", 5): 'spec.size: "big" is not of type "integer"',
        ("apps/widget.yaml", 6): "spec: Additional properties are not allowed ('colour' was unexpected)",
    }


def test_missing_schema_warns_and_can_be_rejected(run_cli, tmp_path):
    write(tmp_path / "x.yaml", "apiVersion: acme.io/v1\nkind: Gadget\nmetadata: {name: g}\n")
    config = write(tmp_path / "c.yaml", "policies: []\n")
    warn = run_cli("check", "x.yaml", "--config", config)
    assert warn.returncode == 0
    assert "WARN   x.yaml:1  schema-missing  Gadget/g: no schema for kind Gadget (acme.io/v1)" in warn.stdout
    reject = run_cli("check", "x.yaml", "--config", config, "--reject-missing-schemas")
    assert reject.returncode == 1


def test_kubernetes_version_flag(run_cli, tmp_path):
    # flowcontrol.apiserver.k8s.io/v1beta3 was removed in Kubernetes 1.32.
    write(
        tmp_path / "fc.yaml",
        """
        apiVersion: flowcontrol.apiserver.k8s.io/v1beta3
        kind: PriorityLevelConfiguration
        metadata: {name: p}
        spec: {type: Exempt}
        """,
    )
    config = write(tmp_path / "c.yaml", "policies: []\n")
    old = as_json(run_cli("check", "fc.yaml", "--config", config, "--kubernetes-version", "1.29", "-o", "json"))
    assert old["findings"] == []
    new = as_json(run_cli("check", "fc.yaml", "--config", config, "--kubernetes-version", "1.37", "-o", "json"))
    assert [f["rule"] for f in new["findings"]] == ["schema-missing"]
    bad = run_cli("check", "fc.yaml", "--config", config, "--kubernetes-version", "1.2")
    assert bad.returncode == 3
    assert "no bundled schemas for Kubernetes 1.2" in bad.stderr


def test_waivers_file_waives_until_expiry(run_cli, tmp_path, test_policies):
    deployment(tmp_path, name="legacy-root")
    write(
        tmp_path / "waivers.yaml",
        """
        - rule: deny
          kind: Deployment
          name: legacy-*
          owner: platform-team
          reason: migrating to non-root (PLAT-12)
          expires: 2999-01-01
        """,
    )
    live = run_cli("check", "deploy.yaml", "-p", test_policies, "--waivers", "waivers.yaml")
    assert live.returncode == 0, live.stdout
    assert "WAIVED deploy.yaml:1  main.deny" in live.stdout
    assert "waivers used:\n  deny (owner platform-team, expires 2999-01-01): migrating to non-root (PLAT-12) [waivers.yaml:1]" in live.stdout
    write(tmp_path / "waivers.yaml", (tmp_path / "waivers.yaml").read_text().replace("2999-01-01", "2001-01-01"))
    expired = run_cli("check", "deploy.yaml", "-p", test_policies, "--waivers", "waivers.yaml", "-o", "json")
    assert expired.returncode == 1
    outcomes = [(f["rule"], f["outcome"]) for f in json.loads(expired.stdout)["findings"]]
    assert outcomes == [("main.deny", "failure"), ("waiver-expired", "warning")]


def test_parse_errors_fail_unless_excluded(run_cli, tmp_path):
    write(tmp_path / "ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    write(tmp_path / "vendor/broken.yaml", "a: [1\n")
    config = write(tmp_path / "c.yaml", "policies: []\n")
    proc = run_cli("check", "ok.yaml", "vendor", "--config", config)
    assert proc.returncode == 1
    assert "FAIL   vendor/broken.yaml:2  parse  invalid YAML at line 2 column 1" in proc.stdout
    assert run_cli("check", "ok.yaml", "vendor", "--config", config, "--exclude", "vendor/*").returncode == 0


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "sarif", "github"])
def test_every_output_format_reports_the_failure(run_cli, tmp_path, test_policies, fmt):
    deployment(tmp_path)
    proc = run_cli("check", "deploy.yaml", "-p", test_policies, "-o", fmt)
    assert proc.returncode == 1
    if fmt == "junit":
        suite = ElementTree.fromstring(proc.stdout).find("testsuite")
        assert suite.get("failures") == "1"
        assert suite.find("testcase/failure").get("message") == "Containers must not run as root"
    elif fmt in ("json", "sarif"):
        text = json.dumps(json.loads(proc.stdout))
        assert "Containers must not run as root" in text
    elif fmt == "github":
        assert "::error file=deploy.yaml,line=1,title=main.deny::Deployment/apps/web: Containers must not run as root" in proc.stdout
    else:
        assert "deploy.yaml:1" in proc.stdout


def test_usage_and_configuration_errors_exit_3_with_one_line(run_cli, tmp_path, test_policies):
    cases = [
        (("check",), "nothing to check"),
        (("check", "missing.yaml"), "missing.yaml: no such file or directory"),
        (("check", ".", "-p", "nope"), "policy path nope does not exist"),
        (("check", ".", "--config", write(tmp_path / "c.yaml", "polices: []\n")), "unknown key `polices`"),
        (("check", "--head", "HEAD"), "--head needs --base"),
    ]
    for args, message in cases:
        proc = run_cli(*args)
        assert proc.returncode == 3, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_broken_policy_is_an_error_naming_file_and_line(run_cli, tmp_path):
    write(tmp_path / "pol/bad.rego", "package main\n\ndeny[msg] {\n  msg := \n")
    deployment(tmp_path)
    proc = run_cli("check", "deploy.yaml", "-p", "pol", "-o", "json")
    assert proc.returncode == 3
    assert proc.stdout == ""  # rego-cpp's own printing must not leak into the output
    assert "pol/bad.rego:" in proc.stderr


def test_missing_builtin_is_refused(run_cli, tmp_path):
    write(
        tmp_path / "pol/net.rego",
        'package main\n\ndeny[msg] {\n  net.cidr_contains("10.0.0.0/8", input.ip)\n  msg := "internal"\n}\n',
    )
    deployment(tmp_path)
    proc = run_cli("check", "deploy.yaml", "-p", "pol")
    assert proc.returncode == 3
    assert "pol/net.rego:4: net.cidr_contains() is not a builtin of the embedded Rego engine" in proc.stderr


def test_runtime_error_in_policy_fails_the_document(run_cli, tmp_path):
    write(tmp_path / "pol/div.rego", 'package main\n\ndeny[msg] {\n  msg := sprintf("%d", ["not a number"])\n}\n')
    deployment(tmp_path)
    result = as_json(run_cli("check", "deploy.yaml", "-p", "pol", "-o", "json"))
    assert [(f["rule"], f["outcome"], f["line"]) for f in result["findings"]] == [("policy-error", "failure", 1)]


def test_git_range_checks_changed_manifests_at_head(run_cli, work_repo, test_policies):
    base = commit(work_repo, {"apps/old.yaml": ROOT_DEPLOYMENT.format(name="old", image="a:1"), "README.md": "x"}, "base")
    commit(
        work_repo,
        {
            "apps/new.yaml": ROOT_DEPLOYMENT.format(name="new", image="a:latest"),
            "notes.txt": "not a manifest",
        },
        "add new",
    )
    commit(work_repo, {"apps/renamed.yaml": ROOT_DEPLOYMENT.format(name="renamed", image="a:2")}, "another")
    proc = run_cli("check", "--base", base, "--head", "HEAD", "--repo", work_repo, "-p", test_policies, "-o", "json")
    result = as_json(proc)
    assert result["summary"]["files"] == 2  # old.yaml is unchanged in the range
    assert {f["path"] for f in result["findings"]} == {"apps/new.yaml", "apps/renamed.yaml"}
    latest = [f for f in result["findings"] if f["rule"] == "main.deny_latest"]
    assert [(f["path"], f["line"]) for f in latest] == [("apps/new.yaml", 15)]


def test_git_range_uses_crds_anywhere_in_the_repo(run_cli, work_repo):
    crd = (DATA / "widget-crd.yaml").read_text()
    base = commit(work_repo, {"crds/widget.yaml": crd}, "crd")
    commit(work_repo, {"apps/w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: x}\n"}, "w")
    config = write(work_repo.parent / "c.yaml", "policies: []\n")
    result = as_json(run_cli("check", "--base", base, "--repo", work_repo, "--config", config, "-o", "json"))
    assert [(f["path"], f["line"], f["rule"]) for f in result["findings"]] == [("apps/w.yaml", 4, "schema")]


def test_git_range_unknown_revision_is_an_error(run_cli, work_repo):
    commit(work_repo, {"a.yaml": "a: 1\n"}, "one")
    proc = run_cli("check", "--base", "no-such-branch", "--repo", work_repo)
    assert proc.returncode == 3
    assert "unknown revision 'no-such-branch'" in proc.stderr


def test_hostile_inputs_become_findings_and_the_rest_is_still_checked(run_cli, tmp_path):
    laughs = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    laughs += [f"a{n}: &a{n} [" + ",".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 10)]
    write(tmp_path / "in/bomb.yaml", "\n".join(laughs) + "\n")
    (tmp_path / "in/huge.yaml").write_bytes(b"data: " + b"x" * (9 * 1024 * 1024) + b"\n")
    (tmp_path / "in/binary.yaml").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00")
    (tmp_path / "in/latin1.yaml").write_bytes(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n")
    write(tmp_path / "in/deep.yaml", "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 150)))
    write(tmp_path / "in/flow.json", "[" * 5000 + "]" * 5000)
    write(tmp_path / "in/ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n")
    config = write(tmp_path / "c.yaml", "policies: []\n")
    result = as_json(run_cli("check", "in", "--config", config, "-o", "json"))
    by_file = {f["path"]: (f["rule"], f["line"], f["message"]) for f in result["findings"]}
    assert by_file["in/bomb.yaml"][0] == "parse" and "alias bomb" in by_file["in/bomb.yaml"][2]
    assert by_file["in/huge.yaml"][2].startswith("file is over the 8388608-byte limit")
    assert by_file["in/binary.yaml"][2].startswith("binary file")
    assert by_file["in/latin1.yaml"][1:] == (3, "invalid UTF-8 at byte 51: save the file as UTF-8")
    assert by_file["in/deep.yaml"][2] == "nesting deeper than 100 levels"
    assert by_file["in/flow.json"][0] == "parse"
    assert "in/ok.yaml" not in by_file
    assert result["summary"] == {"files": 7, "resources": 1, "failures": 6, "warnings": 0, "waived": 0}
