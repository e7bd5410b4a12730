"""Governed waivers: a rule accepted for some resources, by an owner, for a reason, until a date.

waivers.yaml is a list (or `{waivers: [...]}`) of entries:

    - rule: deny_privileged          # or main.deny_privileged, or a glob
      kind: DaemonSet                # kind/namespace/name globs, default "*"
      namespace: kube-system
      name: node-exporter
      path: "clusters/*/monitoring/*" # optional path glob
      owner: platform-team
      reason: needs host metrics (INC-4411)
      expires: 2027-03-31            # inclusive; expired waivers stop waiving
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
from collections.abc import Iterable, Sequence

from auditsvc.errors import ConfigError
from auditsvc.manifests import parse
from auditsvc.model import Finding, ResourceKey, Waiver

REQUIRED = ("rule", "owner", "reason", "expires")
OPTIONAL = ("kind", "namespace", "name", "path")


def load_waivers(path: str) -> list[Waiver]:
    try:
        with open(path, "rb") as handle:
            parsed = parse(path, handle.read())
    except OSError as err:
        raise ConfigError(f"cannot read waivers file {path}: {err.strerror}") from None
    if parsed.findings:
        raise ConfigError(f"{parsed.findings[0].location}: {parsed.findings[0].message}")
    if not parsed.documents:
        return []
    document = parsed.documents[0]
    entries = document.value.get("waivers") if isinstance(document.value, dict) else document.value
    if not isinstance(entries, list):
        raise ConfigError(f"{path}:{document.line}: waivers must be a list of entries (rule, owner, reason, expires)")
    waivers = []
    for index, entry in enumerate(entries):
        line = document.line_of(("waivers", index) if isinstance(document.value, dict) else (index,))
        where = f"{path}:{line}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: a waiver is a mapping with {', '.join(REQUIRED)}")
        missing = [k for k in REQUIRED if not entry.get(k)]
        if missing:
            raise ConfigError(f"{where}: waiver lacks {', '.join(missing)}: every waiver needs an owner, a reason and an expiry")
        unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
        if unknown:
            raise ConfigError(f"{where}: unknown waiver key(s) {', '.join(unknown)}; allowed: {', '.join(REQUIRED + OPTIONAL)}")
        try:
            expires = datetime.date.fromisoformat(str(entry["expires"]))
        except ValueError:
            raise ConfigError(f"{where}: expires must be a date like 2027-03-31, not {entry['expires']!r}") from None
        waivers.append(
            Waiver(
                rule=str(entry["rule"]),
                owner=str(entry["owner"]),
                reason=str(entry["reason"]),
                expires=expires.isoformat(),
                source=where,
                **{k: str(entry[k]) for k in OPTIONAL if k in entry},
            )
        )
    return waivers


def _matches(waiver: Waiver, finding: Finding, key: ResourceKey) -> bool:
    short_rule = finding.rule.rsplit(".", 1)[-1]
    return (
        (fnmatch.fnmatchcase(finding.rule, waiver.rule) or fnmatch.fnmatchcase(short_rule, waiver.rule))
        and fnmatch.fnmatchcase(key.kind, waiver.kind)
        and fnmatch.fnmatchcase(key.namespace, waiver.namespace)
        and fnmatch.fnmatchcase(key.name, waiver.name)
        and fnmatch.fnmatch(finding.path, waiver.path)
    )


def apply_waivers(
    findings: Iterable[tuple[Finding, ResourceKey]], waivers: Sequence[Waiver], today: datetime.date
) -> list[Finding]:
    """Waive matching findings; an expired waiver waives nothing and is reported as a warning."""
    out: list[Finding] = []
    for finding, key in findings:
        if finding.waived_by is not None or finding.rule in ("parse",):
            out.append(finding)
            continue
        matching = [w for w in waivers if _matches(w, finding, key)]
        live = [w for w in matching if datetime.date.fromisoformat(w.expires) >= today]
        if live:
            out.append(dataclasses.replace(finding, waived_by=live[0]))
            continue
        out.append(finding)
        for waiver in matching:
            out.append(
                Finding(
                    "waiver-expired",
                    "warn",
                    f"waiver at {waiver.source} (owner {waiver.owner}) expired on {waiver.expires} and no longer "
                    f"waives {finding.rule}: fix the resource or ask {waiver.owner} to renew it",
                    finding.path,
                    finding.line,
                    finding.resource,
                )
            )
    return out
