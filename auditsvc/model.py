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
    commit: str = ""  # the commit that last changed the file, for pushes

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


# --- git: what a push or a commit range brings ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class RefUpdate:
    """One `<old> <new> <ref>` line of a push; the all-zero id means create (old) or delete (new)."""

    old: str
    new: str
    ref: str

    @classmethod
    def parse(cls, line: str) -> RefUpdate:
        """A pre-receive/post-receive stdin line; ValueError if it is not three fields."""
        old, new, ref = line.strip().split(" ", 2)
        return cls(old, new, ref)

    @property
    def zero(self) -> str:
        """The all-zero id of this repository's hash length (40 for SHA-1, 64 for SHA-256)."""
        return "0" * len(self.old or self.new)

    @property
    def is_create(self) -> bool:
        return self.old == "0" * len(self.old)

    @property
    def is_delete(self) -> bool:
        return self.new == "0" * len(self.new)

    @property
    def is_tag(self) -> bool:
        return self.ref.startswith("refs/tags/")


@dataclasses.dataclass(frozen=True)
class Signature:
    """A commit's signature as git sees it: the %G? letter, %GS and %GK (empty if none)."""

    status: str  # G good, B bad, U good/unknown validity, X/Y expired, R revoked key, E cannot check, N none
    signer: str = ""
    key: str = ""

    @property
    def signed(self) -> bool:
        return self.status != "N"


@dataclasses.dataclass(frozen=True)
class CommitInfo:
    """Who claims to have written and committed a commit, and when (RFC 3339, UTC)."""

    id: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_time: str
    committer_name: str
    committer_email: str
    committer_time: str
    subject: str
    signature: Signature


@dataclasses.dataclass(frozen=True)
class FileChange:
    """One manifest file changed by one commit (against its first parent)."""

    commit: str
    status: str  # A, M, D or R (copies count as A; type changes as A, D or M)
    path: str  # the file after the commit; for D, the file deleted
    old_path: str | None  # the file before the commit (differs from path for R); None for A
    old_blob: str | None  # None for A
    new_blob: str | None  # None for D


FieldOp = Literal["add", "remove", "replace"]


@dataclasses.dataclass(frozen=True)
class FieldChange:
    """One field-level difference. `op` says whether the field was added, removed or replaced:
    old is None for "add" and new is None for "remove" (a null value is op "replace")."""

    path: str  # e.g. spec.template.spec.containers[0].image; "" for the whole document
    old: Any
    new: Any
    op: FieldOp = "replace"


ChangeOp = Literal["created", "modified", "deleted", "renamed"]


@dataclasses.dataclass(frozen=True)
class ResourceChange:
    """What one commit did to one resource (a document of a manifest file)."""

    commit: str
    path: str  # the file after the commit; for "deleted", the file it was deleted from
    old_path: str | None  # the file before a "renamed" change, else None
    op: ChangeOp
    key: ResourceKey
    before: Any  # the parsed resource, None for "created"
    after: Any  # the parsed resource, None for "deleted"
    diff: tuple[FieldChange, ...] = ()


@dataclasses.dataclass(frozen=True)
class Landing:
    """What one ref update brings to its ref: the commits that become reachable from the ref
    (oldest first; also commits other refs already had), and whether it rewinds the ref.

    A create brings what no other ref had; a protected ref's create only hides the other
    protected refs, so commits of unprotected branches are brought (and checked) again.
    """

    ref: str
    old: str | None  # the commit the ref leaves (tags peeled); None for a create
    new: str | None  # the commit the ref lands on (tags peeled); None for a delete
    commits: tuple[str, ...]
    known: tuple[str, ...]  # those of `commits` the repository had before the push
    # Those of `commits` on the ref's first-parent line: the ref's own steps. A merged side
    # branch's commits are not (the merge's diff holds what they changed).
    mainline: tuple[str, ...]
    forced: bool  # not a fast-forward (creates and deletes: False; moving a tag of a tree: True)
    base: str | None = None  # forced between commits: merge-base(old, new), or the empty tree when unrelated

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Landing:
        """A Landing from dataclasses.asdict, through JSON (lists back to tuples)."""
        return cls(**{**record, **{k: tuple(record[k]) for k in ("commits", "known", "mainline")}})

    @property
    def rewinds(self) -> bool:
        """The ref drops commits: its resources go back to `base` before `commits` apply."""
        return self.base is not None


@dataclasses.dataclass(frozen=True)
class Changeset:
    """Everything a push (or a commit range) brings: built once, judged and recorded by every door."""

    repo: str
    updates: tuple[RefUpdate, ...]
    commits: tuple[CommitInfo, ...]  # commits the updates bring to their refs, each once, each ref's oldest first
    files: tuple[FileChange, ...]  # the manifest files they change, in the order of commits
    changes: tuple[ResourceChange, ...]  # in the order of commits
    landings: tuple[Landing, ...]  # per ref update, in order
