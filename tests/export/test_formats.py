"""CSV, JSONL and OSCAL exports round-trip what the log holds."""

from __future__ import annotations

import csv
import io
import json

import pytest
from oscal_bindings.v1.models import AssessmentResultsDocument
from pydantic import ValidationError

from auditsvc.export import Period, export, verify_bundle
from auditsvc.export.tables import CSV_COLUMNS
from auditsvc.errors import ConfigError

from export.conftest import ACTOR


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def events_in(story, repo=None):
    period = story.period(repo)
    with story.server.log() as log:
        return [e for e in log.events() if period.holds(e) and e.type != "access"]


def test_csv_has_one_row_per_change_with_its_trace(story):
    rows = csv_rows(story.export("csv"))
    changes = [e for e in events_in(story) if e.type == "change"]
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [int(r["change_id"]) for r in rows] == [e.seq for e in changes]
    for row, event in zip(rows, changes):
        assert (row["repo"], row["ref"], row["commit"], row["path"], row["operation"]) == (
            event.repo, event.ref, event.commit, event.body["path"], event.body["op"]
        )
        assert row["description"] == event.body["subject"]
        assert row["author"] == f"{event.body['author']['name']} <{event.body['author']['email']}>"

    pushed = {(r["commit"], r["path"]): r for r in rows if r["repo"] == "server"}
    create = pushed[(story.c["create"], "apps/web.yaml")]
    assert create["resource"] == "Deployment/shop/web" and create["api_version"] == "apps/v1"
    assert create["pusher"] == "alice (http)" and create["policy_verdict"] == "passed" and create["pushed_at"]
    assert create["signature"] == "N (none)"
    prod, staging = create["first_deploy"].split("; ")
    assert prod.startswith("prod=") and staging.startswith("staging=")
    with story.server.log() as log:
        deploys = [e.body for e in log.events() if e.type == "deploy" and e.commit == story.c["create"]]
    assert prod == "prod=" + min(d["reported_at"] for d in deploys if d["cluster"] == "prod")

    bump = pushed[(story.c["bump"], "apps/web.yaml")]
    assert bump["author"] == "Eve Editor <eve@example.com>" and bump["pusher"] == "bob (http)"
    assert bump["rollback_commit"] == "" and bump["first_deploy"] == ""

    root = pushed[(story.c["root"], "apps/web.yaml")]
    assert root["policy_verdict"] == "failed, overridden" and root["override"] == "yes"
    assert root["override_reason"] == "INC-7: hotfix for the login outage"
    assert "FAIL" in root["findings"] and "root" in root["findings"]
    assert root["pusher"] == "alice (http)"
    assert root["rollback_commit"] == story.c["revert"]
    revert_row = pushed[(story.c["revert"], "apps/web.yaml")]
    assert root["rollback_change_id"] == revert_row["change_id"]
    assert root["first_deploy"].startswith("prod=")

    side = next(r for r in rows if r["repo"] == "side")
    assert side["policy_verdict"].startswith("failed (landed without passing")
    assert side["signature"] == "G (good) by octo@example.com" and side["pusher"] == "octo (github)"

    legacy = [r for r in rows if r["repo"] == "legacy"]
    assert legacy and {r["policy_verdict"] for r in legacy} == {"not checked (imported)"}
    assert {r["pusher"] for r in legacy} == {"unknown (imported history)"} and not any(r["pushed_at"] for r in legacy)


def test_csv_of_one_repo(story):
    rows = csv_rows(story.export("csv", repo="legacy"))
    assert rows and {r["repo"] for r in rows} == {"legacy"}
    assert len(rows) == len([e for e in events_in(story, "legacy") if e.type == "change"])


def test_jsonl_holds_every_event_of_the_period_with_every_field(story):
    expected = events_in(story)
    data = story.export("jsonl").decode("utf-8")
    lines = [json.loads(line) for line in data.splitlines()]
    exported = [line for line in lines if line["type"] != "access"]  # earlier exports of the module are events too
    assert exported == [e.to_dict() for e in expected]
    assert {"push", "change", "override", "deploy", "drift", "violation", "import"} <= {e["type"] for e in exported}


def test_every_export_is_recorded_as_an_access_event(story):
    with story.server.log() as log:
        before = log.size()
    story.export("jsonl", repo="side")
    with story.server.log() as log:
        record = log.get(before + 1)
        side_events = [e for e in log.events() if e.repo == "side" and e.type != "access" and story.period("side").holds(e)]
    assert record is not None and record.type == "access" and record.repo == "side"
    body = record.body
    assert body["action"] == "export" and body["format"] == "jsonl" and body["actor"] == ACTOR
    assert body["events"] == len(side_events) == 2 and body["period"]["repo"] == "side"
    assert (body["first_seq"], body["last_seq"]) == (side_events[0].seq, side_events[-1].seq)


def test_a_period_before_the_history_exports_nothing_and_still_verifies(story, tmp_path):
    empty = Period.parse("2001-01-01", "2001-12-31")
    with story.server.log() as log:
        data = b"".join(export(log, "csv", empty, actor=ACTOR, origin="t"))
        bundle = tmp_path / "empty.zip"
        bundle.write_bytes(b"".join(export(log, "bundle", empty, actor=ACTOR, origin="t")))
    assert csv_rows(data) == []
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    assert report.events == 0 and report.export["events"] == 0


def test_bad_periods_and_formats_are_clear_errors(story):
    with pytest.raises(ConfigError, match="before --from"):
        Period.parse("2026-02-01", "2026-01-01")
    with story.server.log() as log, pytest.raises(ConfigError, match="unknown export format"):
        export(log, "pdf", story.period(), actor=ACTOR, origin="t")


def test_oscal_assessment_results_validate_and_hold_an_observation_per_change(story):
    data = story.export("oscal")
    AssessmentResultsDocument.model_validate_json(data)  # raises on anything the OSCAL model forbids
    document = json.loads(data)["assessment-results"]
    (result,) = document["results"]
    changes = [e for e in events_in(story) if e.type == "change"]
    observations = result["observations"]
    assert len(observations) == len(changes)

    def prop(observation, name):
        return next((p["value"] for p in observation["props"] if p["name"] == name), None)

    assert [int(prop(o, "change-id")) for o in observations] == [e.seq for e in changes]
    controls = [c["control-id"] for c in result["reviewed-controls"]["control-selections"][0]["include-controls"]]
    assert controls == ["soc2-cc8.1", "iso27001-a.8.32", "pcidss-6.5.1", "pcidss-10.2.2"]
    root = next(o for o in observations if prop(o, "commit") == story.c["root"])
    assert prop(root, "policy-verdict") == "failed, overridden"
    assert prop(root, "override-reason") == "INC-7: hotfix for the login outage"
    # the violation that landed on `side` makes every control's finding not-satisfied, naming it
    side = next(o for o in observations if prop(o, "repository") == "side")
    for finding in result["findings"]:
        assert finding["target"]["status"]["state"] == "not-satisfied"
        assert finding["related-observations"] == [{"observation-uuid": side["uuid"]}]
    # same period again: same observation ids
    again = json.loads(story.export("oscal"))["assessment-results"]["results"][0]["observations"]
    assert [o["uuid"] for o in again] == [o["uuid"] for o in observations]


def test_the_oscal_model_used_for_validation_rejects_a_broken_document(story):
    """The check above is only worth something if the model refuses what OSCAL forbids."""
    document = json.loads(story.export("oscal"))
    document["assessment-results"]["results"][0]["observations"][0]["uuid"] = "not-a-uuid"
    with pytest.raises(ValidationError):
        AssessmentResultsDocument.model_validate_json(json.dumps(document))
