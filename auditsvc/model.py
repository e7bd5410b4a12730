"""The nouns shared by every door: documents, resources, findings, results."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

Severity = Literal["deny", "warn"]


@dataclasses.dataclass(frozen=True)
class ResourceKey:
    """Identity of a Kubernetes-style resource; empty strings where absent."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, value: Any) -> ResourceKey:
        if not isinstance(value, dict):
            return cls("", "", "", "")
        metadata = value.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        return cls(
            api_version=str(value.get("apiVersion") or ""),
            kind=str(value.get("kind") or ""),
            namespace=str(metadata.get("namespace") or ""),
            name=str(metadata.get("name") or ""),
        )

    def __str__(self) -> str:
        if not self.kind and not self.name:
            return ""
        parts = [self.kind or "?"]
        if self.namespace:
            parts.append(self.namespace)
        parts.append(self.name or "?")
        return "/".join(parts)


@dataclasses.dataclass(frozen=True)
class Waiver:
    """A governed exception: who accepted which rule for which resources, until when."""

    rule: str
    owner: str
    reason: str
    expires: str  # ISO date, inclusive
    kind: str = "*"
    namespace: str = "*"
    name: str = "*"
    path: str = "*"
    source: str = ""  # "file:line" of the waiver entry


@dataclasses.dataclass(frozen=True)
class Finding:
    """One result of a check, located at file:line."""

    rule: str  # "schema", "parse", "schema-missing", or a policy rule such as "main.deny_privileged"
    severity: Severity
    message: str
    path: str
    line: int
    resource: str = ""  # str(ResourceKey), empty for file-level findings
    field: str = ""  # offending field, e.g. spec.template.spec.containers[0].image
    waived_by: Waiver | None = None

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def outcome(self) -> str:
        """failure, warning or waived: what the finding means for the exit code."""
        if self.waived_by is not None:
            return "waived"
        return "failure" if self.severity == "deny" else "warning"


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """Everything one check run found, in input order."""

    findings: tuple[Finding, ...]
    files: int
    resources: int
    waivers_used: tuple[Waiver, ...] = ()

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.findings if f.outcome == outcome)

    @property
    def failures(self) -> int:
        return self.count("failure")

    @property
    def warnings(self) -> int:
        return self.count("warning")

    @property
    def waived(self) -> int:
        return self.count("waived")

    def exit_code(self, fail_on_warn: bool) -> int:
        """conftest's convention: 0 pass, 1 failures; with --fail-on-warn 1 warnings, 2 failures."""
        if fail_on_warn:
            if self.failures:
                return 2
            return 1 if self.warnings else 0
        return 1 if self.failures else 0
