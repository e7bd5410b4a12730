"""The OPA server engine, against a stand-in server: the OPA binary cannot be installed on these machines.

tests/policy/opa_server.py implements the part of OPA's documented REST API
the engine uses and evaluates with regopy, in its own process on a loopback
port. These tests therefore prove the protocol (upload, queries, answers read
as OPA gives them), the failure paths and the fail modes; they cannot prove
that OPA itself evaluates the bundled policies exactly as regopy does.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from auditsvc import check
from auditsvc.check import Checker, run_check
from auditsvc.config import BUNDLED_POLICIES, load_settings
from auditsvc.errors import PolicyError, PolicyServerUnavailable
from auditsvc.manifests import Limits, collect
from auditsvc.policy import Violation, to_evaluation
from auditsvc.policy.opa import OpaEngine
from auditsvc.policy.rego import RegoEngine

from .opa_server import running
from conftest import DATA, ROOT, Server

CORPUS = DATA / "corpus"
DEPLOYMENT = {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {"spec": {}}}}


def unreachable_url() -> str:
    """A loopback port nothing listens on: the connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def server_policies(url: str) -> dict[str, str]:
    with urllib.request.urlopen(f"{url}/v1/policies") as answer:
        return {p["id"]: p["raw"] for p in json.load(answer)["result"]}


def test_push_mode_uploads_modules_data_and_entry_package_once(test_policies, tmp_path):
    data = tmp_path / "data.yaml"
    data.write_text("registries: [registry.example.com]\n")
    with running() as url:
        engine = OpaEngine(url, policy_dirs=[str(test_policies)], data_files=[str(data)])
        uploaded = server_policies(url)
        assert sorted(uploaded) == [
            "auditsvc/0/combine.rego",
            "auditsvc/0/lib.rego",
            "auditsvc/0/main.rego",
            "auditsvc/0/registries.rego",
            f"auditsvc/entry/state/{engine.digest[:16]}.rego",
        ]  # tests (*_test.rego) stay home, as in the embedded engine
        query = urllib.request.Request(f"{url}/v1/data/registries", data=b'{"input": {}}', method="POST")
        with urllib.request.urlopen(query) as answer:
            assert json.load(answer) == {"result": ["registry.example.com"]}
        assert engine.digest == RegoEngine([str(test_policies)], data_files=[str(data)]).digest
        # A second start with the same policies finds the entry package and uploads nothing.
        OpaEngine(url, policy_dirs=[str(test_policies)], data_files=[str(data)])
        assert server_policies(url) == uploaded


def test_push_mode_removes_modules_it_no_longer_has(tmp_path):
    (tmp_path / "a.rego").write_text('package main\n\ndeny_a contains "a" if input.kind == "Deployment"\n')
    (tmp_path / "b.rego").write_text('package main\n\ndeny_b contains "b" if input.kind == "Deployment"\n')
    with running() as url:
        assert {v.message for v in OpaEngine(url, policy_dirs=[str(tmp_path)]).evaluate(DEPLOYMENT).violations} == {"a", "b"}
        (tmp_path / "b.rego").unlink()
        engine = OpaEngine(url, policy_dirs=[str(tmp_path)])
        assert [v.message for v in engine.evaluate(DEPLOYMENT).violations] == ["a"]
        assert sorted(server_policies(url)) == ["auditsvc/0/a.rego", f"auditsvc/entry/state/{engine.digest[:16]}.rego"]


def test_conftest_conventions_hold_through_the_server(tmp_path):
    (tmp_path / "lib" / "k.rego").parent.mkdir()
    (tmp_path / "lib" / "k.rego").write_text("package lib.k\n\nname := input.metadata.name\n")
    (tmp_path / "main.rego").write_text(
        "package main\n\nimport data.lib.k\n\n"
        'deny[msg] { msg := k.name }\n\n'
        'deny_root[msg] { msg := "root" }\n\n'
        'exception[rules] { input.metadata.name == "web"; rules := ["root"] }\n'
    )
    (tmp_path / "team.rego").write_text('package team.rules\n\nwarn[msg] { msg := "team" }\n')
    with running() as url:
        engine = OpaEngine(url, policy_dirs=[str(tmp_path)], all_namespaces=True)
        evaluation = engine.evaluate(DEPLOYMENT)
        assert evaluation == RegoEngine([str(tmp_path)], all_namespaces=True).evaluate(DEPLOYMENT)
        assert {(v.namespace, v.rule, v.message) for v in evaluation.violations} == {
            ("main", "deny", "web"),
            ("main", "deny_root", "root"),
            ("team.rules", "warn", "team"),
        }
        assert {v.rule for v in evaluation.violations if evaluation.excepted(v)} == {"deny_root"}


def test_sets_read_the_same_as_opa_arrays_and_as_regopy_objects():
    """A real OPA returns a set (v0 `deny[msg]` included) as an array; regopy returns a v0 set as {msg: true}."""
    as_opa = to_evaluation({"main": {"deny": ["a", {"msg": "b", "field": "spec"}], "exception": [["x"]]}})
    as_regopy = to_evaluation({"main": {"deny": {"a": True, '{"field":"spec","msg":"b"}': True}, "exception": {'["x"]': True}}})
    assert as_opa == as_regopy
    assert as_opa.violations == (Violation("main", "deny", "a"), Violation("main", "deny", "b", ("spec",)))
    assert as_opa.exceptions == frozenset({("main", "x")})


def test_bundle_mode_uploads_nothing_and_asks_the_packages(test_policies):
    with running("--bundle", str(test_policies)) as url:
        before = server_policies(url)
        engine = OpaEngine(url, mode="bundle")
        assert server_policies(url) == before
        embedded = RegoEngine([str(test_policies)])
        for value in (DEPLOYMENT, {"kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "NodePort"}}):
            assert engine.evaluate(value) == embedded.evaluate(value)
        assert engine.digest == embedded.digest  # the same module texts, read back from the server


def test_bundle_mode_refuses_a_server_without_the_policies():
    with running() as url:
        with pytest.raises(PolicyServerUnavailable, match=f"the OPA server at {url} holds no deny, violation or warn rules"):
            OpaEngine(url, mode="bundle")


def test_a_module_the_server_refuses_is_a_policy_error_naming_it(tmp_path):
    (tmp_path / "bad.rego").write_text("package main\n\ndeny[msg] { msg := }\n")
    with running() as url:
        with pytest.raises(PolicyError, match=r"refused policy .*bad\.rego: .*bad\.rego:3"):
            OpaEngine(url, policy_dirs=[str(tmp_path)])


def test_a_runtime_error_is_a_policy_error_for_that_document_only(tmp_path):
    (tmp_path / "p.rego").write_text('package main\n\ndeny contains msg if { msg := 1 / input.zero }\n')
    with running() as url:
        engine = OpaEngine(url, policy_dirs=[str(tmp_path)])
        with pytest.raises(PolicyError) as raised:
            engine.evaluate({"zero": 0})
        assert not isinstance(raised.value, PolicyServerUnavailable)
        assert "could not evaluate" in str(raised.value)


def test_an_unreachable_server_names_its_url(test_policies):
    url = unreachable_url()
    with pytest.raises(PolicyServerUnavailable, match=f"cannot reach the OPA server at {url} .*correct policy.url"):
        OpaEngine(url, policy_dirs=[str(test_policies)])


def test_a_slow_server_times_out_with_the_configured_limit(test_policies):
    with running("--delay", "3") as url:
        with pytest.raises(PolicyServerUnavailable, match=rf"at {url} did not answer the policy list within 0\.5 s \(policy\.timeout_seconds\)"):
            OpaEngine(url, timeout_seconds=0.5, policy_dirs=[str(test_policies)])


def test_a_decision_that_comes_too_late_is_no_decision(test_policies):
    with running() as url:
        OpaEngine(url, timeout_seconds=30, policy_dirs=[str(test_policies)])  # upload, however loaded the machine
        engine = OpaEngine(url, timeout_seconds=0.5, policy_dirs=[str(test_policies)])
        urllib.request.urlopen(urllib.request.Request(f"{url}/test/delay", data=b"3", method="PUT")).close()
        with pytest.raises(PolicyServerUnavailable, match=rf"at {url} did not answer data\.auditsvc_entry\.state_p\w+\.result_\d within 0\.5 s"):
            engine.evaluate(DEPLOYMENT)


def settings_for(tmp_path: Path, policy: dict | None) -> object:
    config = tmp_path / f"auditsvc-{len(list(tmp_path.glob('auditsvc-*')))}.yaml"
    values = {"data": [str(CORPUS / "registries.yaml")], "cache_dir": str(tmp_path / "cache")}
    if policy:
        values["policy"] = policy
    config.write_text(json.dumps(values))
    return load_settings(str(config), environ={})


def corpus_sources(tmp_path: Path) -> list:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import corpus
    finally:
        sys.path.remove(str(ROOT / "bench"))
    corpus.build(str(tmp_path / "generated"), resources=200)
    return collect([str(ROOT / "examples"), str(CORPUS / "everything-wrong.yaml"), str(tmp_path / "generated")], ())


def test_findings_equal_the_embedded_engine_on_the_corpus(tmp_path):
    """Every bundled rule fires somewhere in the corpus, and both OPA modes find exactly what regopy finds."""
    sources = corpus_sources(tmp_path)
    embedded = Checker.from_settings(settings_for(tmp_path, None))
    expected = run_check(embedded, sources, workers=1).findings
    fired = {f.rule for f in expected}
    assert {f"main.{rule}" for rule in embedded.engine.rules["main"]} <= fired
    bundle = tmp_path / "bundle"  # an OPA bundle: the policies, and the data in data.json files
    shutil.copytree(BUNDLED_POLICIES, bundle)
    (bundle / "data.json").write_text(json.dumps(yaml.safe_load((CORPUS / "registries.yaml").read_text())))
    with running("--bundle", str(bundle)) as bundle_url, running() as push_url:
        for policy in ({"engine": "opa", "url": push_url}, {"engine": "opa", "url": bundle_url, "mode": "bundle"}):
            policy["timeout_seconds"] = 30  # a loaded machine must not turn this into a timeout test
            checker = Checker.from_settings(settings_for(tmp_path, policy))
            if policy.get("mode") != "bundle":  # a bundle carries no --data: the digest then differs
                assert checker.provenance() == embedded.provenance()
            assert run_check(checker, sources, workers=1).findings == expected, policy


def test_forked_check_workers_use_their_own_connections(tmp_path, monkeypatch):
    """Large inputs are checked in forked workers: each must open its own connection to the server."""
    sources = collect([str(ROOT / "examples"), str(CORPUS / "everything-wrong.yaml")], ())
    expected = run_check(Checker.from_settings(settings_for(tmp_path, None)), sources, workers=1).findings
    monkeypatch.setattr(check, "PARALLEL_MIN_BYTES", 0)  # fork for this small input
    monkeypatch.setattr(check, "CHUNK_BYTES", 1)  # one file per worker task
    with running() as url:
        checker = Checker.from_settings(settings_for(tmp_path, {"engine": "opa", "url": url, "timeout_seconds": 30}))
        assert run_check(checker, sources, workers=2).findings == expected


def test_combine_gives_the_server_every_document(tmp_path, test_policies):
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n")
    sources = collect([str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")], ())
    with running() as url:
        engine = OpaEngine(url, policy_dirs=[str(test_policies)], namespaces=["combine"])
        checker = Checker(Checker.from_settings(settings_for(tmp_path, None)).schemas, engine, [], Limits(), combine=True)
        assert [f.message for f in run_check(checker, sources, workers=1).findings] == ["two Services share a name"]


def test_check_exits_3_with_one_line_when_opa_is_unreachable(run_cli, tmp_path):
    url = unreachable_url()
    (tmp_path / "auditsvc.yaml").write_text(json.dumps({"policy": {"engine": "opa", "url": url}}))
    proc = run_cli("check", str(ROOT / "examples" / "good"), "--config", "auditsvc.yaml")
    assert proc.returncode == 3
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"auditsvc: error: cannot reach the OPA server at {url} for the policy list: start it, or correct policy.url"
    ]


def test_check_through_opa_prints_what_the_embedded_engine_prints(run_cli, tmp_path):
    with running() as url:
        (tmp_path / "auditsvc.yaml").write_text(json.dumps({"policy": {"engine": "opa", "url": url, "timeout_seconds": 30}}))
        through_opa = run_cli("check", str(ROOT / "examples"), "--config", "auditsvc.yaml")
    embedded = run_cli("check", str(ROOT / "examples"))
    assert (through_opa.returncode, through_opa.stdout) == (embedded.returncode, embedded.stdout) == (1, embedded.stdout)
    assert "main.deny_privileged" in through_opa.stdout


DEPLOYMENT_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:latest
"""


@pytest.mark.parametrize("fail_mode", ["closed", "open"])
def test_hook_applies_the_fail_mode_when_opa_is_unreachable(tmp_path, fail_mode):
    url = unreachable_url()
    server = Server(tmp_path, {"policy": {"engine": "opa", "url": url}, "fail_mode": fail_mode})
    server.commit({"apps/web.yaml": DEPLOYMENT_YAML}, "add web")
    proc = server.push("origin", "main")
    assert f"auditsvc: could not check this push: cannot reach the OPA server at {url}" in proc.stderr
    assert "Traceback" not in proc.stderr
    if fail_mode == "closed":
        assert proc.returncode != 0
        assert "push refused (fail_mode: closed)" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
        assert "push accepted unchecked (fail_mode: open)" in proc.stderr
    [push] = server.events("push")
    assert (push["accepted"], push["fail_mode"]) == (fail_mode == "open", fail_mode)


def test_hook_refuses_a_bad_push_through_opa(tmp_path):
    with running() as url:
        server = Server(tmp_path, {"policy": {"engine": "opa", "url": url, "timeout_seconds": 30}})
        server.commit({"apps/web.yaml": DEPLOYMENT_YAML}, "add web")
        proc = server.push("origin", "main")
    assert proc.returncode != 0
    assert "FAIL apps/web.yaml:1 [commit" in proc.stderr
    assert "main.deny: Deployment/shop/web: Containers must not run as root" in proc.stderr
    assert "FAIL apps/web.yaml:15 [commit" in proc.stderr and "main.deny_latest" in proc.stderr
    [push] = server.events("push")
    assert push["accepted"] is False and push["policy_digest"] == RegoEngine([str(DATA / "policies")]).digest


def test_change_rules_decide_the_same_through_the_server_beside_the_state_rules():
    """The change-aware engine has its own entry package: uploading it leaves the state engine's alone."""
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    change = {
        "operation": "modified",
        "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "", "name": "web"},
        "old_object": {**deployment, "spec": {"selector": {"matchLabels": {"app": "web"}}}},
        "object": {**deployment, "spec": {"selector": {"matchLabels": {"app": "v2"}}}},
        "diff": [{"path": "spec.selector.matchLabels.app", "op": "replace", "old": "web", "new": "v2"}],
    }
    embedded = RegoEngine([BUNDLED_POLICIES], namespaces=["change"])
    with running() as url:
        state = OpaEngine(url, timeout_seconds=30, policy_dirs=[BUNDLED_POLICIES], excluded_namespaces=["change"])
        served = OpaEngine(url, timeout_seconds=30, policy_dirs=[BUNDLED_POLICIES], namespaces=["change"], role="change")
        for changed in (["spec.selector.matchLabels.app"], ["spec.replicas"]):
            expected = embedded.evaluate(change, kind="Deployment", changed=changed)
            assert served.evaluate(change, kind="Deployment", changed=changed) == expected
        assert [v.rule for v in expected.violations] == []  # spec.replicas: the immutable-field rule does not run
        assert [v.rule for v in served.evaluate(change, kind="Deployment", changed=["spec.selector"]).violations] == ["deny_immutable_field"]
        entries = sorted(p for p in server_policies(url) if p.startswith("auditsvc/entry/"))
        assert entries == [f"auditsvc/entry/change/{served.digest[:16]}.rego", f"auditsvc/entry/state/{state.digest[:16]}.rego"]
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"type": "LoadBalancer"}}
        assert "deny_service_type" in [v.rule for v in state.evaluate(service).violations]  # still served
