"""OSCAL assessment results (JSON): an observation per change, findings per control, streamed.

Controls are named by framework-prefixed ids (OSCAL control ids must start with a letter), in
the `reviewed-controls` of the one result that covers the period:

    soc2-cc8.1       SOC 2 (2017 TSC) CC8.1, change management
    iso27001-a.8.32  ISO/IEC 27001:2022 Annex A 8.32, change management
    pcidss-6.5.1     PCI DSS v4.0 6.5.1, changes follow change control
    pcidss-10.2.2    PCI DSS v4.0 10.2.2, audit log details per event

Each observation carries the change's evidence as props (who authored, committed and pushed it,
its signature, policy verdict, override reason, first deploys, rollback) and points at the audit
log event (seq and leaf hash) the evidence bundle proves. Each control gets one finding:
not-satisfied when a change landed failing policy without an override (or unchecked by a
failed-open hook), with those observations related; satisfied otherwise. UUIDs are version 5,
derived from the events, so exporting the same period again gives the same ids.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from auditsvc import __version__
from auditsvc.audit import Event
from auditsvc.export.population import ChangeRow, change_rows
from auditsvc.export.selection import Selection
from auditsvc.export.tables import deploys_text, person, pusher_text, signature_text

NAMESPACE = "urn:auditsvc:oscal"  # the ns of our props (a URI; no web site of ours is implied)
OSCAL_VERSION = "1.1.3"
_UUIDS = uuid.uuid5(uuid.NAMESPACE_URL, NAMESPACE)
CONTROLS = {
    "soc2-cc8.1": "SOC 2 CC8.1: changes to infrastructure and software are authorized, designed, developed, "
    "configured, documented, tested, approved and implemented",
    "iso27001-a.8.32": "ISO/IEC 27001:2022 A.8.32: changes to information processing facilities and information "
    "systems are subject to change management procedures",
    "pcidss-6.5.1": "PCI DSS v4.0 6.5.1: changes to system components are made according to change control "
    "procedures (reason, approval, testing, deployment, back-out)",
    "pcidss-10.2.2": "PCI DSS v4.0 10.2.2: audit logs record user, type, date and time, success or failure, origin "
    "and affected resource for each auditable event",
}


def _uuid(name: str) -> str:
    return str(uuid.uuid5(_UUIDS, name))


def _prop(name: str, value: Any) -> dict[str, str] | None:
    text = str(value).strip() if value is not None else ""
    return {"name": name, "ns": NAMESPACE, "value": text} if text else None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False, separators=(",", ":"))


def exception(row: ChangeRow) -> bool:
    """A change that counts against the controls: it landed failing policy with no override, or unchecked."""
    landed_failing = row.failed and row.override is None and row.verdict != "failed, refused"
    return landed_failing or row.verdict.startswith("not checked (the check failed open")


def observation(row: ChangeRow) -> dict[str, Any]:
    event, body = row.event, row.body
    override = row.override.body if row.override else {}
    rollback_seq, rollback_commit = row.rollback or (None, None)
    props = [
        _prop("change-id", event.seq),
        _prop("repository", event.repo),
        _prop("ref", event.ref),
        _prop("commit", event.commit),
        _prop("resource", row.resource_label),
        _prop("operation", body.get("op")),
        _prop("author", _person_text(body.get("author"))),
        _prop("committer", _person_text(body.get("committer"))),
        _prop("pusher", pusher_text(row)),
        _prop("pushed-at", row.pushed_at),
        _prop("signature", signature_text(row)),
        _prop("policy-verdict", row.verdict),
        _prop("override-reason", override.get("reason")),
        _prop("first-deploy", deploys_text(row)),
        _prop("rollback-commit", rollback_commit),
        _prop("rollback-change-id", rollback_seq),
    ]
    evidence = [
        {
            "description": f"Audit log event {event.seq} (type change, leaf hash {event.leaf_hash}); "
            "its inclusion proof against a signed checkpoint is in the evidence bundle.",
            "props": [p for p in (_prop("event-seq", event.seq), _prop("leaf-hash", event.leaf_hash)) if p],
        }
    ]
    if row.push is not None:
        evidence.append({"description": f"Push decision: audit log event {row.push.seq} (accepted: "
                         f"{bool(row.push.body.get('accepted'))}, findings: {len(row.findings)})."})
    if row.override is not None:
        evidence.append({"description": f"Override: audit log event {row.override.seq}, reason: {override.get('reason')}"})
    for deploy in row.deploys:
        evidence.append({"description": f"Deployed to {deploy.cluster} at {deploy.reported_at} (revision {deploy.revision})."})
    return {
        "uuid": _uuid(event.natural_key),
        "title": f"Change {event.seq}: {body.get('op')} {row.resource_label} in {event.repo}@{(event.commit or '')[:12]}",
        "description": str(body.get("subject") or "(no commit subject)"),
        "props": [p for p in props if p],
        "methods": ["EXAMINE"] if row.imported else ["EXAMINE", "TEST"],
        "types": ["control-objective"],
        "relevant-evidence": evidence,
        "collected": event.recorded_at,
    }


def _person_text(record: Any) -> str:
    return person(record if isinstance(record, dict) else None)


def oscal_chunks(selection: Selection, record: Event) -> Iterator[bytes]:
    period = selection.period
    result_uuid = _uuid(record.natural_key + ":result")
    head = {
        "uuid": _uuid(record.natural_key),
        "metadata": {
            "title": f"Change management evidence {period.start} to {period.end}"
            + (f" ({period.repo})" if period.repo else ""),
            "last-modified": record.recorded_at,
            "version": f"auditsvc {__version__} export {record.seq}",
            "oscal-version": OSCAL_VERSION,
        },
        "import-ap": {"href": f"urn:auditsvc:export:{record.seq}"},
    }
    result = {
        "uuid": result_uuid,
        "title": "Changes of desired state recorded in the audit log",
        "description": "Every change in the period, traced from the tamper-evident audit log to its author, pusher, "
        "policy verdict, override, deploys and rollback.",
        "start": period.start,
        "end": period.end,
        "reviewed-controls": {"control-selections": [{"include-controls": [{"control-id": c} for c in CONTROLS]}]},
    }
    prefix = _dumps({"assessment-results": {**head, "results": [result]}})
    # Open the result object again to stream its observations: cut the closing "}]}}".
    yield prefix[: -len("}]}}")].encode("utf-8")
    exceptions: list[str] = []
    count = 0
    batch: list[str] = []
    opened = False
    for row in change_rows(selection):
        item = observation(row)
        if exception(row):
            exceptions.append(item["uuid"])
        batch.append(_dumps(item))
        count += 1
        if len(batch) >= 500:
            yield (("," if opened else ',"observations":[') + ",".join(batch)).encode("utf-8")
            batch, opened = [], True
    if batch:
        yield (("," if opened else ',"observations":[') + ",".join(batch)).encode("utf-8")
    tail = "]" if count else ""
    findings = [_finding(record, control, text, exceptions, count) for control, text in CONTROLS.items()]
    yield (tail + ',"findings":' + _dumps(findings) + "}]}}\n").encode("utf-8")


def _finding(record: Event, control: str, text: str, exceptions: list[str], count: int) -> dict[str, Any]:
    satisfied = not exceptions
    if satisfied:
        description = f"{count} changes examined: each passed its policy checks, was refused, or was overridden with a recorded reason."
    else:
        description = f"{count} changes examined; {len(exceptions)} landed failing policy without an override or unchecked."
    finding: dict[str, Any] = {
        "uuid": _uuid(f"{record.natural_key}:finding:{control}"),
        "title": control,
        "description": f"{text}. {description}",
        "target": {"type": "objective-id", "target-id": control, "status": {"state": "satisfied" if satisfied else "not-satisfied"}},
    }
    if exceptions:
        finding["related-observations"] = [{"observation-uuid": u} for u in exceptions]
    return finding
