"""`auditsvc policy test`: opa-test-style results, failures, errors and engine crashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditsvc.config import BUNDLED_POLICIES
from auditsvc.errors import PolicyError
from auditsvc.policy.testing import render_results, run_tests


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text)


def test_pass_fail_and_error_are_reported_per_test(tmp_path):
    write(tmp_path, "p.rego", 'package main\n\ndeny[m] { input.bad; m := "bad" }\n')
    write(
        tmp_path,
        "p_test.rego",
        "package main\n\n"
        'test_denies { deny["bad"] with input as {"bad": true} }\n\n'
        "test_wrong { count(deny) == 1 with input as {} }\n\n"
        'test_boom { sprintf("%d", ["x"]) == "1" }\n',
    )
    results = run_tests([str(tmp_path)])
    assert [(r.query, r.outcome) for r in results] == [
        ("data.main.test_denies", "PASS"),
        ("data.main.test_wrong", "FAIL"),
        ("data.main.test_boom", "ERROR"),
    ]
    text = render_results(results)
    assert f"{tmp_path}/p_test.rego:\ndata.main.test_denies: PASS" in text
    assert "PASS: 1/3\nFAIL: 1/3\nERROR: 1/3" in text


def test_quiet_rendering_lists_only_failures(tmp_path):
    write(tmp_path, "a_test.rego", "package main\n\ntest_ok { true }\n\ntest_no { false }\n")
    text = render_results(run_tests([str(tmp_path)]), verbose=False)
    assert "test_ok" not in text
    assert "data.main.test_no: FAIL" in text


def test_no_tests_is_said(tmp_path):
    write(tmp_path, "p.rego", "package main\n\nx := 1\n")
    results = run_tests([str(tmp_path)])
    assert results == []
    assert "no tests found" in render_results(results)


def test_compile_error_is_a_policy_error(tmp_path):
    write(tmp_path, "p_test.rego", "package main\n\ntest_x { input.a[ }\n")
    with pytest.raises(PolicyError, match="policies do not compile"):
        run_tests([str(tmp_path)])


def test_engine_crash_is_reported_not_passed(tmp_path):
    # FIELD-NOTES: this valid Rego kills rego-cpp (SIGABRT/SIGSEGV) inside the process.
    write(
        tmp_path,
        "crash_test.rego",
        "package crash\n\nimport rego.v1\n\n"
        'deny contains "d" if input.x == 1\n\nwarn contains "w" if input.x == 2\n\n'
        'result := {"deny": deny, "warn": warn}\n\n'
        "test_crash if {\n"
        '  batch := [r | some d in [{"x": 1}, {"x": 2}]; r := result with input as d]\n'
        "  count(batch) == 2\n}\n",
    )
    with pytest.raises(PolicyError, match=r"the Rego engine crashed \(SIG[A-Z]+\)"):
        run_tests([str(tmp_path)])


def test_bundled_library_passes_its_own_tests():
    results = run_tests([BUNDLED_POLICIES])
    failing = [(r.query, r.outcome, r.detail) for r in results if r.outcome != "PASS"]
    assert failing == []
    assert len(results) >= 30
