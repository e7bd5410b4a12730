"""CheckResult renderers: text, json, junit, sarif, github. One function per format."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from itertools import groupby
from typing import Any
from xml.etree import ElementTree

from auditsvc import __version__
from auditsvc.model import CheckResult, Finding, Waiver

LABELS = {"failure": "FAIL", "warning": "WARN", "waived": "WAIVED"}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary_line(result: CheckResult) -> str:
    return (
        f"{_plural(result.resources, 'resource')} in {_plural(result.files, 'file')}: "
        f"{_plural(result.failures, 'failure')}, {_plural(result.warnings, 'warning')}, {result.waived} waived"
    )


def _waiver_text(waiver: Waiver) -> str:
    until = f", expires {waiver.expires}" if waiver.expires else ""
    return f"{waiver.rule} (owner {waiver.owner}{until}): {waiver.reason} [{waiver.source}]"


def render_text(result: CheckResult) -> str:
    lines: list[str] = []
    for path, group in groupby(result.findings, key=lambda f: f.path):
        lines.append(path)
        for finding in group:
            subject = f"{finding.resource}: " if finding.resource else ""
            lines.append(f"  {LABELS[finding.outcome]:<6} {finding.location}  {finding.rule}  {subject}{finding.message}")
            if finding.waived_by is not None:
                lines.append(f"         waived by {_waiver_text(finding.waived_by)}")
        lines.append("")
    lines.append(summary_line(result))
    if result.waivers_used:
        lines.append("waivers used:")
        lines.extend(f"  {_waiver_text(w)}" for w in result.waivers_used)
    return "\n".join(lines) + "\n"


def finding_dict(finding: Finding) -> dict[str, Any]:
    """A finding as JSON: `check -o json`, the validate API and the audit log's push events share it."""
    return {
        "outcome": finding.outcome,
        "severity": finding.severity,
        "rule": finding.rule,
        "message": finding.message,
        "path": finding.path,
        "line": finding.line,
        "resource": finding.resource,
        "field": finding.field,
        "commit": finding.commit,
        "waiver": _waiver_dict(finding.waived_by) if finding.waived_by else None,
    }


def _waiver_dict(waiver: Waiver) -> dict[str, Any]:
    return {
        "rule": waiver.rule,
        "owner": waiver.owner,
        "reason": waiver.reason,
        "expires": waiver.expires or None,
        "source": waiver.source,
    }


def result_dict(result: CheckResult) -> dict[str, Any]:
    """The JSON shape of a check result, shared by `check -o json` and the validate API."""
    return {
        "summary": {
            "files": result.files,
            "resources": result.resources,
            "failures": result.failures,
            "warnings": result.warnings,
            "waived": result.waived,
        },
        "findings": [finding_dict(f) for f in result.findings],
        "waivers_used": [_waiver_dict(w) for w in result.waivers_used],
    }


def render_json(result: CheckResult) -> str:
    return json.dumps(result_dict(result), indent=2) + "\n"


def render_junit(result: CheckResult) -> str:
    suites = ElementTree.Element("testsuites", name="auditsvc")
    suite = ElementTree.SubElement(
        suites,
        "testsuite",
        name="auditsvc check",
        tests="0",
        failures=str(result.failures),
        skipped=str(result.waived),
        errors="0",
    )
    tests = 0
    for finding in result.findings:
        tests += 1
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=finding.path,
            name=f"{finding.rule} {finding.resource or finding.path}:{finding.line}".strip(),
            file=finding.path,
            line=str(finding.line),
        )
        text = f"{finding.location}: {finding.message}"
        if finding.outcome == "failure":
            ElementTree.SubElement(case, "failure", message=finding.message, type=finding.rule).text = text
        elif finding.outcome == "waived" and finding.waived_by is not None:
            ElementTree.SubElement(case, "skipped", message=f"waived: {_waiver_text(finding.waived_by)}")
        else:
            ElementTree.SubElement(case, "system-out").text = f"warning: {text}"
    if not result.findings:
        tests = 1
        ElementTree.SubElement(suite, "testcase", classname="auditsvc", name=summary_line(result))
    suite.set("tests", str(tests))
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def render_sarif(result: CheckResult) -> str:
    rules = sorted({f.rule for f in result.findings})
    results = []
    for finding in result.findings:
        entry: dict[str, Any] = {
            "ruleId": finding.rule,
            "ruleIndex": rules.index(finding.rule),
            "level": "error" if finding.severity == "deny" else "warning",
            "message": {"text": f"{finding.resource}: {finding.message}" if finding.resource else finding.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": urllib.parse.quote(finding.path.removeprefix("./"))},
                        "region": {"startLine": max(finding.line, 1)},
                    }
                }
            ],
        }
        if finding.waived_by is not None:
            entry["suppressions"] = [{"kind": "external", "justification": _waiver_text(finding.waived_by)}]
        results.append(entry)
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "auditsvc",
                        "version": __version__,
                        "informationUri": "https://github.com/auditsvc/auditsvc",
                        "rules": [{"id": rule, "shortDescription": {"text": rule}} for rule in rules],
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(result: CheckResult) -> str:
    """GitHub Actions workflow commands: one annotation per finding."""
    lines = []
    for finding in result.findings:
        command = {"failure": "error", "warning": "warning", "waived": "notice"}[finding.outcome]
        message = f"{finding.resource}: {finding.message}" if finding.resource else finding.message
        if finding.waived_by is not None:
            message += f" (waived: {_waiver_text(finding.waived_by)})"
        lines.append(
            f"::{command} file={_escape_property(finding.path)},line={finding.line},"
            f"title={_escape_property(finding.rule)}::{_escape_data(message)}"
        )
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[CheckResult], str]] = {
    "text": render_text,
    "json": render_json,
    "junit": render_junit,
    "sarif": render_sarif,
    "github": render_github,
}
