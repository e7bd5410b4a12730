"""The embedded Rego engine: conftest conventions, compile errors, missing builtins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditsvc.errors import PolicyError
from auditsvc.policy import Violation
from auditsvc.policy.rego import RegoEngine, compile_errors, load_modules, touches

DEPLOYMENT = {"kind": "Deployment", "metadata": {"name": "legacy"}, "spec": {"template": {"spec": {}}}}


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_v0_and_v1_syntax_give_the_same_messages(tmp_path):
    write(tmp_path, "v0/p.rego", 'package main\n\ndeny[msg] {\n  input.kind == "Deployment"\n  msg := "v0"\n}\n')
    write(tmp_path, "v1/p.rego", 'package main\n\nimport rego.v1\n\ndeny contains "v1" if input.kind == "Deployment"\n')
    for version in ("v0", "v1"):
        evaluation = RegoEngine([str(tmp_path / version)]).evaluate(DEPLOYMENT)
        assert evaluation.violations == (Violation("main", "deny", version),)


def test_object_messages_carry_msg_and_field(tmp_path):
    write(
        tmp_path,
        "p.rego",
        'package main\n\nimport rego.v1\n\n'
        'warn_x contains {"msg": "m", "field": "spec.template.spec"} if input.kind == "Deployment"\n'
        'violation_y contains {"msg": "n", "field": ["spec", "template"]} if true\n',
    )
    violations = RegoEngine([str(tmp_path)]).evaluate(DEPLOYMENT).violations
    assert violations == (
        Violation("main", "violation_y", "n", ("spec", "template")),
        Violation("main", "warn_x", "m", ("spec", "template", "spec")),
    )
    assert [v.severity for v in violations] == ["deny", "warn"]


def test_exception_names_rules_to_waive(tmp_path):
    write(
        tmp_path,
        "p.rego",
        'package main\n\ndeny_root[msg] { msg := "root" }\n\ndeny_other[msg] { msg := "other" }\n\n'
        'exception[rules] {\n  input.metadata.name == "legacy"\n  rules := ["root"]\n}\n',
    )
    evaluation = RegoEngine([str(tmp_path)]).evaluate(DEPLOYMENT)
    excepted = {v.rule for v in evaluation.violations if evaluation.excepted(v)}
    assert excepted == {"deny_root"}


def test_imports_across_files_and_namespaces(tmp_path):
    write(tmp_path, "lib/k.rego", 'package lib.k\n\nname := input.metadata.name\n')
    write(tmp_path, "a.rego", 'package main\n\nimport data.lib.k\n\ndeny[msg] { msg := k.name }\n')
    write(tmp_path, "b.rego", 'package team.rules\n\nwarn[msg] { msg := "team" }\n')
    assert [v.message for v in RegoEngine([str(tmp_path)]).evaluate(DEPLOYMENT).violations] == ["legacy"]
    every = RegoEngine([str(tmp_path)], all_namespaces=True).evaluate(DEPLOYMENT).violations
    assert {(v.namespace, v.message) for v in every} == {("main", "legacy"), ("team.rules", "team")}
    only_team = RegoEngine([str(tmp_path)], namespaces=["team.rules"]).evaluate(DEPLOYMENT).violations
    assert [v.rule_id for v in only_team] == ["team.rules.warn"]


def test_disabled_rules_are_not_evaluated(tmp_path):
    write(tmp_path, "p.rego", 'package main\n\ndeny_a[m] { m := "a" }\n\ndeny_b[m] { m := "b" }\n')
    engine = RegoEngine([str(tmp_path)], disabled_rules=["deny_a"])
    assert [v.rule for v in engine.evaluate({}).violations] == ["deny_b"]
    assert engine.rules == {"main": ["deny_b"]}


def test_data_files_are_merged_under_data(tmp_path):
    write(tmp_path, "pol/p.rego", 'package main\n\ndeny[m] { m := sprintf("%v-%v", [data.a.x, data.a.y]) }\n')
    write(tmp_path, "one.yaml", "a: {x: 1}\n")
    write(tmp_path, "two.json", '{"a": {"y": 2}}')
    engine = RegoEngine([str(tmp_path / "pol")], data_files=[str(tmp_path / "one.yaml"), str(tmp_path / "two.json")])
    assert [v.message for v in engine.evaluate({}).violations] == ["1-2"]


def test_digest_changes_with_policy_text_and_data(tmp_path):
    policy = write(tmp_path, "pol/p.rego", 'package main\n\ndeny[m] { m := "a" }\n')
    first = RegoEngine([str(tmp_path / "pol")]).digest
    assert RegoEngine([str(tmp_path / "pol")]).digest == first
    policy.write_text('package main\n\ndeny[m] { m := "b" }\n')
    assert RegoEngine([str(tmp_path / "pol")]).digest != first


def test_syntax_error_names_file_line_and_column(tmp_path):
    write(tmp_path, "bad.rego", "package main\n\nf(a) { startswith(a, b[_]) }\n")
    with pytest.raises(PolicyError) as info:
        RegoEngine([str(tmp_path)])
    assert f"{tmp_path}/bad.rego:3:24: Invalid bracket argument" in str(info.value)


def test_missing_package_is_refused(tmp_path):
    write(tmp_path, "nopkg.rego", "deny[m] { m := 1 }\n")
    with pytest.raises(PolicyError, match=r"nopkg.rego:1: no package declaration"):
        load_modules([str(tmp_path)])


@pytest.mark.parametrize("call", ["net.cidr_contains(\"10.0.0.0/8\", input.ip)", "trace(\"x\")", "http.send({})"])
def test_missing_builtins_are_refused_with_their_line(tmp_path, call):
    write(tmp_path, "p.rego", f"package main\n\ndeny[m] {{\n  {call}\n  m := \"x\"\n}}\n")
    with pytest.raises(PolicyError) as info:
        RegoEngine([str(tmp_path)])
    assert f"p.rego:4: {call.split('(')[0]}() is not a builtin" in str(info.value)


def test_user_functions_and_strings_are_not_mistaken_for_builtins(tmp_path):
    write(
        tmp_path,
        "p.rego",
        'package main\n\nimport data.lib.h as helpers\n\nmy_check(x) { x == 1 }\n\n'
        'deny[m] {\n  my_check(1)\n  helpers.ok(2)\n  m := "trace(nothing) # net.cidr_contains(1)"\n}\n',
    )
    write(tmp_path, "lib.rego", "package lib.h\n\nok(x) { x == 2 }\n")
    assert [v.message for v in RegoEngine([str(tmp_path)]).evaluate({}).violations] == [
        "trace(nothing) # net.cidr_contains(1)"
    ]


def test_runtime_error_raises_policy_error(tmp_path):
    write(tmp_path, "p.rego", 'package main\n\ndeny[m] { m := sprintf("%d", ["x"]) }\n')
    with pytest.raises(PolicyError, match="failed at run time"):
        RegoEngine([str(tmp_path)]).evaluate({})


def test_recursion_is_an_error_not_a_pass(tmp_path):
    write(tmp_path, "p.rego", 'package main\n\ndeny[m] { count(data.main) > 0; m := "x" }\n')
    with pytest.raises(PolicyError, match="Recursion"):
        RegoEngine([str(tmp_path)]).evaluate({})


def test_compile_errors_reads_rego_cpp_report():
    printed = "Errors:\nInvalid bracket argument\n-- p.rego:2:24\nf(a) { x }\n   ~\n\nPass merge failed with 1 error!\n"
    assert compile_errors(printed) == "p.rego:2:24: Invalid bracket argument"


def test_kinds_annotation_limits_where_a_rule_is_evaluated(tmp_path):
    write(
        tmp_path,
        "p.rego",
        "package main\n\nimport rego.v1\n\n"
        "# METADATA\n# custom:\n#   kinds: [Deployment, StatefulSet]\n"
        'deny_workload contains "workload" if true\n\n'
        'deny_any contains "any" if true\n\n'
        "# METADATA\n# custom:\n#   kinds: [Service]\n"
        'warn_split contains "split" if true\n\n'
        'warn_split contains "split-unannotated" if false\n',
    )
    engine = RegoEngine([str(tmp_path)])
    seen = {kind: {v.rule for v in engine.evaluate({"kind": kind}).violations} for kind in ("Deployment", "Service", "ConfigMap")}
    assert seen == {
        "Deployment": {"deny_workload", "deny_any", "warn_split"},
        "Service": {"deny_any", "warn_split"},  # one body of warn_split has no annotation: it runs everywhere
        "ConfigMap": {"deny_any", "warn_split"},
    }


def test_document_scope_annotation_covers_every_body(tmp_path):
    write(
        tmp_path,
        "p.rego",
        "package main\n\nimport rego.v1\n\n"
        "# METADATA\n# scope: document\n# custom:\n#   kinds: [Pod]\n"
        'deny_pod contains "a" if true\n\n'
        'deny_pod contains "b" if true\n',
    )
    engine = RegoEngine([str(tmp_path)])
    assert {v.message for v in engine.evaluate({"kind": "Pod"}).violations} == {"a", "b"}
    assert engine.evaluate({"kind": "Service"}).violations == ()


def test_two_document_scope_annotations_add_up(tmp_path):
    """OPA allows one per rule; keeping only the last would skip the rule for the first one's kinds."""
    write(
        tmp_path,
        "p.rego",
        "package main\n\nimport rego.v1\n\n"
        "# METADATA\n# scope: document\n# custom:\n#   kinds: [Pod]\n"
        'deny_x contains "pod" if input.kind == "Pod"\n\n'
        "# METADATA\n# scope: document\n# custom:\n#   kinds: [Job]\n"
        'deny_x contains "job" if input.kind == "Job"\n',
    )
    engine = RegoEngine([str(tmp_path)])
    assert [v.message for v in engine.evaluate({"kind": "Pod"}).violations] == ["pod"]
    assert [v.message for v in engine.evaluate({"kind": "Job"}).violations] == ["job"]


def test_kind_given_apart_from_the_input(tmp_path):
    """Change-aware rules: the input is a change, the kind that selects rules is its resource's."""
    write(
        tmp_path,
        "p.rego",
        "package change\n\nimport rego.v1\n\n"
        "# METADATA\n# custom:\n#   kinds: [Namespace]\n"
        'deny_delete contains "gone" if input.operation == "deleted"\n',
    )
    engine = RegoEngine([str(tmp_path)], namespaces=["change"])
    change = {"operation": "deleted", "resource": {"kind": "Namespace"}}
    assert [v.rule_id for v in engine.evaluate(change, kind="Namespace").violations] == ["change.deny_delete"]
    assert engine.evaluate(change, kind="ConfigMap").violations == ()


def test_input_conversion_keeps_every_json_type(tmp_path):
    value = {
        "s": "héllo",
        "i": 42,
        "neg": -7,
        "f": 1.5,
        "t": True,
        "n": None,
        "l": [1, "two", [3], {"four": 4}],
        "o": {"nested": {"deep": False}},
        "empty": {},
        "none": [],
    }
    # json.marshal(input) would be simpler, but regopy 1.5.2 answers undefined for arrays in an input,
    # and it does not decode \\u escapes in string literals (hence ensure_ascii=False).
    write(tmp_path, "p.rego", f"package main\n\nimport rego.v1\n\ndeny contains \"same\" if input == {json.dumps(value, ensure_ascii=False)}\n")
    engine = RegoEngine([str(tmp_path)])
    assert [v.message for v in engine.evaluate(value).violations] == ["same"]
    assert engine.evaluate({**value, "i": 43}).violations == ()


def test_integers_beyond_64_bits_become_numbers(tmp_path):
    write(tmp_path, "p.rego", "package main\n\nimport rego.v1\n\ndeny contains \"big\" if input.big > 1000000000000000000000\n")
    assert [v.message for v in RegoEngine([str(tmp_path)]).evaluate({"big": 2**72}).violations] == ["big"]


def test_compiled_bundle_is_cached_and_reused(tmp_path):
    write(tmp_path, "pol/p.rego", 'package main\n\nimport rego.v1\n\ndeny contains "x" if input.kind == "Pod"\n')
    cache = tmp_path / "cache"
    first = RegoEngine([str(tmp_path / "pol")], cache_dir=str(cache))
    [entry] = list((cache / "bundles").glob("*.rbb"))
    written = entry.stat().st_mtime_ns
    second = RegoEngine([str(tmp_path / "pol")], cache_dir=str(cache))
    assert list((cache / "bundles").glob("*.rbb")) == [entry]
    assert entry.stat().st_mtime_ns == written  # loaded, not compiled and saved again
    assert second.evaluate({"kind": "Pod"}) == first.evaluate({"kind": "Pod"})
    write(tmp_path, "pol/p.rego", 'package main\n\nimport rego.v1\n\ndeny contains "y" if input.kind == "Pod"\n')
    changed = RegoEngine([str(tmp_path / "pol")], cache_dir=str(cache))
    assert [v.message for v in changed.evaluate({"kind": "Pod"}).violations] == ["y"]
    assert len(list((cache / "bundles").glob("*.rbb"))) == 2


def test_a_corrupt_cache_entry_is_rebuilt(tmp_path):
    write(tmp_path, "pol/p.rego", 'package main\n\nimport rego.v1\n\ndeny contains "x" if true\n')
    cache = tmp_path / "cache"
    RegoEngine([str(tmp_path / "pol")], cache_dir=str(cache))
    [entry] = list((cache / "bundles").glob("*.rbb"))
    entry.write_bytes(b"garbage")  # regopy itself would crash loading this
    engine = RegoEngine([str(tmp_path / "pol")], cache_dir=str(cache))
    assert [v.message for v in engine.evaluate({}).violations] == ["x"]


def test_an_undefined_complete_rule_does_not_hide_the_others(tmp_path):
    write(
        tmp_path,
        "p.rego",
        'package main\n\nimport rego.v1\n\ndeny_complete := "complete" if input.a\n\ndeny_set contains "set" if input.b\n',
    )
    engine = RegoEngine([str(tmp_path)])
    assert [v.message for v in engine.evaluate({"a": True, "b": True}).violations] == ["complete", "set"]
    assert [v.message for v in engine.evaluate({"b": True}).violations] == ["set"]
    assert engine.evaluate({}).violations == ()


def test_changed_annotation_runs_a_change_rule_only_when_its_fields_change(tmp_path):
    write(
        tmp_path,
        "p.rego",
        "package change\n\nimport rego.v1\n\n"
        "# METADATA\n# custom:\n#   kinds: [Deployment]\n#   changed: [spec.selector]\n"
        'deny_selector contains "selector" if true\n\n'
        'warn_any contains "any" if true\n',
    )
    engine = RegoEngine([str(tmp_path)], namespaces=["change"])

    def rules(kind: str, changed: list[str] | None) -> list[str]:
        return sorted(v.rule for v in engine.evaluate({}, kind=kind, changed=changed).violations)

    assert rules("Deployment", ["spec.replicas", "spec.template.spec.containers[0].image"]) == ["warn_any"]
    assert rules("Deployment", ["spec.selector.matchLabels.app"]) == ["deny_selector", "warn_any"]  # a part of it
    assert rules("Deployment", ["spec"]) == ["deny_selector", "warn_any"]  # a parent of it
    assert rules("Deployment", []) == ["warn_any"]  # created or deleted: no field changed
    assert rules("Deployment", None) == ["deny_selector", "warn_any"]  # changes not known: every rule
    assert rules("Service", ["spec.selector"]) == ["warn_any"]  # not its kind


def test_touches_matches_at_field_boundaries():
    assert touches(["spec.selector"], frozenset({"spec.selector"}))
    assert touches(["metadata.labels[\"a.b/c\"]", "spec.volumeClaimTemplates[0].spec"], frozenset({"spec.volumeClaimTemplates"}))
    assert touches([""], frozenset({"data"}))  # the whole document
    assert not touches(["spec.selectorTerms"], frozenset({"spec.selector"}))
    assert not touches(["database"], frozenset({"data"}))
