"""Sources -> CheckResult: the one evaluation path every door calls.

Schemas and policies are compiled once; large inputs are spread over
forked worker processes that inherit the compiled state.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from auditsvc import __version__
from auditsvc.config import Settings
from auditsvc.errors import PolicyError, PolicyServerUnavailable
from auditsvc.manifests import Document, Limits, Source, format_field, parse
from auditsvc.model import CheckResult, Finding, ResourceKey, Waiver
from auditsvc.policy import Evaluation, PolicyEngine
from auditsvc.policy.rego import RegoEngine
from auditsvc.schemas import SchemaRegistry, is_crd
from auditsvc.waivers import apply_waivers, load_waivers

PARALLEL_MIN_BYTES = 2 * 1024 * 1024  # below this, forking costs more than it saves
CHUNK_BYTES = 512 * 1024


@dataclasses.dataclass
class Checker:
    """Compiled schemas, policies and waivers for one run."""

    schemas: SchemaRegistry
    engine: PolicyEngine | None
    waivers: list[Waiver]
    limits: Limits
    combine: bool = False
    change_engine: PolicyEngine | None = None  # change-aware rules (settings.change_namespaces)
    today: datetime.date = dataclasses.field(default_factory=lambda: datetime.datetime.now(datetime.UTC).date())
    _by_blob: dict[tuple[str, str], tuple[list[Finding], int]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, crds: Iterable[dict] = (), combine: bool = False) -> Checker:
        schemas = SchemaRegistry(
            settings.kubernetes_version,
            strict=settings.strict_schemas,
            schema_dirs=settings.schema_dirs,
            path_schemas=dict(settings.path_schemas),
            reject_missing=settings.reject_missing_schemas,
        )
        schemas.add_crds(crds)
        engine = change_engine = None
        if settings.policies:
            engine = policy_engine(settings, "state")
            change_engine = policy_engine(settings, "change")
            if not change_engine.rules:
                change_engine = None
        waivers = load_waivers(settings.waivers) if settings.waivers else []
        return cls(schemas, engine, waivers, settings.limits, combine, change_engine)

    def provenance(self) -> dict[str, object]:
        """What a decision depended on, so an auditor can re-run it and get the same answer."""
        schema_set = hashlib.sha256(
            json.dumps(sorted(map(str, self.schemas.custom_kinds.items())), sort_keys=True).encode()
        ).hexdigest()
        waivers = hashlib.sha256(json.dumps([dataclasses.astuple(w) for w in self.waivers]).encode()).hexdigest()
        return {
            "auditsvc": __version__,
            "policy_digest": self.engine.digest if self.engine else None,
            "change_policy_digest": self.change_engine.digest if self.change_engine else None,
            "kubernetes_version": self.schemas.kubernetes_version,
            "strict_schemas": self.schemas.strict,
            "schema_set_digest": schema_set,
            "waivers_digest": waivers,
        }

    def check_source(self, source: Source) -> tuple[list[Finding], int]:
        """Findings of one file and the number of resources in it (remembered by git blob id)."""
        if source.blob is None:
            return self._check_source(source)
        key = (source.blob, source.path)
        if key not in self._by_blob:
            self._by_blob[key] = self._check_source(source)
        found, count = self._by_blob[key]
        return list(found), count

    def _check_source(self, source: Source) -> tuple[list[Finding], int]:
        try:
            data = source.read(self.limits)
        except OSError as err:
            return [Finding("parse", "deny", f"cannot read file: {err.strerror}", source.path, 1)], 0
        parsed = parse(source.path, data, self.limits)
        findings = list(parsed.findings)
        for document in parsed.documents:
            findings.extend(self.check_document(document))
        return findings, len(parsed.documents)

    def check_document(self, document: Document) -> list[Finding]:
        key = document.key
        pairs = [(f, key) for f in self.schemas.validate(document)]
        if self.engine is not None and not self.combine:
            try:
                evaluation = self.engine.evaluate(document.value)
            except PolicyServerUnavailable:
                raise  # no decision at all: the caller's fail mode applies, not a finding
            except PolicyError as err:
                # One document that breaks a policy must not hide the others' results, nor pass.
                pairs.append((self.policy_error(document, err), key))
            else:
                pairs.extend((f, key) for f in self.policy_findings(document, evaluation))
        return apply_waivers(pairs, self.waivers, self.today)

    def check_change(self, change: Mapping[str, Any], locate: Callable[[], Document]) -> list[Finding]:
        """Change-aware rules for one resource change (the input shape is in policies/README.md).

        locate() gives the resource's document (after the change; before it when deleted), for
        file:line; it is called only when a rule fires, as it reads and parses the file again.
        """
        if self.change_engine is None:
            return []
        try:
            changed = [d["path"] for d in change["diff"]]
            evaluation = self.change_engine.evaluate(change, kind=change["resource"]["kind"], changed=changed)
        except PolicyServerUnavailable:
            raise  # no decision at all: the caller's fail mode applies, not a finding
        except PolicyError as err:
            document = locate()
            return apply_waivers([(self.policy_error(document, err), document.key)], self.waivers, self.today)
        if not evaluation.violations:
            return []
        document = locate()
        return apply_waivers([(f, document.key) for f in self.policy_findings(document, evaluation)], self.waivers, self.today)

    @staticmethod
    def policy_error(document: Document, err: PolicyError) -> Finding:
        return Finding(
            "policy-error",
            "deny",
            f"policy evaluation failed: {err} (fix the policy, or run `auditsvc policy test`)",
            document.path,
            document.line,
            str(document.key),
        )

    @staticmethod
    def policy_findings(document: Document, evaluation: Evaluation) -> list[Finding]:
        findings = []
        for violation in evaluation.violations:
            waived_by = None
            if evaluation.excepted(violation):
                waived_by = Waiver(
                    rule=violation.rule_id,
                    owner="policy",
                    reason=f"exception rule in package {violation.namespace}",
                    expires="",
                    source="rego exception",
                )
            findings.append(
                Finding(
                    violation.rule_id,
                    "warn" if violation.severity == "warn" else "deny",
                    violation.message,
                    document.path,
                    document.line_of(violation.field) if violation.field else document.line,
                    str(document.key),
                    format_field(violation.field),
                    waived_by,
                )
            )
        return findings

    def check_combined(self, sources: Sequence[Source]) -> list[Finding]:
        """--combine: one evaluation over every document, as conftest's [{path, contents}] input."""
        documents: list[Document] = []
        for source in sources:
            try:
                documents.extend(parse(source.path, source.read(self.limits), self.limits).documents)
            except OSError:
                continue  # already reported by the per-file pass
        if self.engine is None or not documents:
            return []
        anchor = Document(documents[0].path, 0, 1, None)
        try:
            evaluation = self.engine.evaluate([{"path": d.path, "contents": d.value} for d in documents])
        except PolicyServerUnavailable:
            raise
        except PolicyError as err:
            return [self.policy_error(anchor, err)]
        findings = self.policy_findings(anchor, evaluation)
        return apply_waivers([(f, ResourceKey("", "", "", "")) for f in findings], self.waivers, self.today)


def policy_engine(settings: Settings, role: str) -> PolicyEngine:
    """The configured engine for the state rules (settings.namespaces) or the change-aware ones."""
    state = role == "state"
    options: dict[str, Any] = dict(
        policy_dirs=settings.policy_dirs,
        namespaces=settings.namespaces if state else settings.change_namespaces,
        all_namespaces=settings.all_namespaces and state,
        excluded_namespaces=settings.change_namespaces if state else (),
        data_files=settings.data,
        disabled_rules=settings.disabled_rules,
    )
    if settings.policy["engine"] == "opa":
        from auditsvc.policy.opa import OpaEngine  # requests and opa_client load only when configured

        policy = settings.policy
        return OpaEngine(policy["url"], policy["mode"], policy["timeout_seconds"], role=role, **options)
    return RegoEngine(**options, cache_dir=settings.cache_dir)


def find_crds(sources: Iterable[Source], limits: Limits) -> list[dict]:
    """CustomResourceDefinitions among the sources: their schemas validate the custom resources."""
    crds = []
    for source in sources:
        try:
            data = source.read(limits)
        except OSError:
            continue
        if b"CustomResourceDefinition" not in data:
            continue
        crds.extend(d.value for d in parse(source.path, data, limits).documents if is_crd(d.value))
    return crds


_worker_checker: Checker | None = None


def _check_chunk(sources: list[Source]) -> tuple[list[Finding], int]:
    assert _worker_checker is not None, "worker started without a checker"
    findings: list[Finding] = []
    resources = 0
    for source in sources:
        found, count = _worker_checker.check_source(source)
        findings.extend(found)
        resources += count
    return findings, resources


def _size(source: Source) -> int:
    if source.data is not None:
        return len(source.data)
    try:
        return os.path.getsize(source.path)
    except OSError:
        return 0


def _chunks(sources: Sequence[Source]) -> list[list[Source]]:
    chunks: list[list[Source]] = [[]]
    size = 0
    for source in sources:
        if chunks[-1] and size + _size(source) > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(source)
        size += _size(source)
    return chunks


def run_check(checker: Checker, sources: Sequence[Source], workers: int = 0) -> CheckResult:
    """Check every source, in parallel when the input is large enough to pay for it."""
    global _worker_checker
    workers = workers or os.cpu_count() or 1
    results: Iterable[tuple[list[Finding], int]]
    if workers > 1 and sum(map(_size, sources)) >= PARALLEL_MIN_BYTES:
        # Imported here: a hook checks a handful of files and should not pay ~15 ms for them.
        import concurrent.futures
        import multiprocessing

        _worker_checker = checker  # forked workers inherit it, compiled
        context = multiprocessing.get_context("fork")
        try:
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                results = list(pool.map(_check_chunk, _chunks(sources)))
        except concurrent.futures.process.BrokenProcessPool:
            raise PolicyError(
                "a check worker died (the Rego engine can abort on some policies): "
                "run `auditsvc policy test` on your policies, or check fewer files to find the input"
            ) from None
        finally:
            _worker_checker = None
    else:
        results = [checker.check_source(s) for s in sources]
    findings: list[Finding] = []
    resources = 0
    for found, count in results:
        findings.extend(found)
        resources += count
    if checker.combine:
        findings.extend(checker.check_combined(sources))
    used = {f.waived_by: None for f in findings if f.waived_by is not None}
    return CheckResult(tuple(findings), len(sources), resources, tuple(used))
