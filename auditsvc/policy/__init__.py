"""Policy engines: conftest-style rule sets evaluated against one input at a time."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, Protocol

from auditsvc.manifests import FieldPath, parse_field

FAIL_PREFIXES = ("deny", "violation")
WARN_PREFIXES = ("warn",)


def is_decision_rule(name: str) -> bool:
    """deny, violation, warn, and their `_<name>` variants, as conftest reads them."""
    return any(name == p or name.startswith(p + "_") for p in FAIL_PREFIXES + WARN_PREFIXES)


@dataclasses.dataclass(frozen=True)
class Violation:
    """One message a decision rule produced."""

    namespace: str
    rule: str  # e.g. deny_privileged
    message: str
    field: FieldPath = ()

    @property
    def severity(self) -> str:
        return "warn" if self.rule.startswith(WARN_PREFIXES) else "deny"

    @property
    def rule_id(self) -> str:
        return f"{self.namespace}.{self.rule}"


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Violations for one input, and the rule names its `exception` rules waive."""

    violations: tuple[Violation, ...]
    exceptions: frozenset[tuple[str, str]]  # (namespace, rule name suffix as conftest names it)

    def excepted(self, violation: Violation) -> bool:
        for prefix in FAIL_PREFIXES + WARN_PREFIXES:
            if violation.rule == prefix or violation.rule.startswith(prefix + "_"):
                suffix = violation.rule[len(prefix) + 1 :]
                return (violation.namespace, suffix) in self.exceptions
        return False


class PolicyEngine(Protocol):
    """What the check needs from a policy engine: one evaluation per input."""

    @property
    def digest(self) -> str: ...

    @property
    def rules(self) -> dict[str, list[str]]: ...

    def evaluate(self, value: Any, kind: str | None = None, changed: Sequence[str] | None = None) -> Evaluation: ...


def _members(value: Any) -> list[Any]:
    """The elements of a rule's value: a set/array, a v0-style `rule[x]` object, or one value."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and value and all(v is True for v in value.values()):
        # regopy reads v0 `deny[msg] { ... }` as an object rule {msg: true}; non-string keys arrive as JSON text.
        return [_json_key(k) for k in value]
    if value is None or value is False or value == {}:
        return []
    return [value]


def _json_key(key: str) -> Any:
    if key[:1] in "{[":
        try:
            return json.loads(key)
        except ValueError:
            return key
    return key


def to_evaluation(results: dict[str, dict[str, Any]]) -> Evaluation:
    """Per-namespace rule values (as the engine returned them) -> an Evaluation."""
    violations: list[Violation] = []
    exceptions: set[tuple[str, str]] = set()
    for namespace, rules in results.items():
        for rule, value in sorted(rules.items()):
            if rule == "exception":
                for names in _members(value):
                    for name in names if isinstance(names, list) else [names]:
                        exceptions.add((namespace, str(name)))
                continue
            for member in _members(value):
                violations.append(_violation(namespace, rule, member))
    return Evaluation(tuple(violations), frozenset(exceptions))


def _violation(namespace: str, rule: str, member: Any) -> Violation:
    if isinstance(member, dict):
        message = member.get("msg", member.get("message"))
        field = member.get("field", ())
        if isinstance(field, str):
            field = parse_field(field)
        elif isinstance(field, list):
            field = tuple(p if isinstance(p, int) else str(p) for p in field)
        else:
            field = ()
        text = message if isinstance(message, str) else json.dumps(member, sort_keys=True)
        return Violation(namespace, rule, text, field)
    if isinstance(member, str):
        return Violation(namespace, rule, member)
    return Violation(namespace, rule, f"{rule} is {json.dumps(member)}")
