"""What every audit log backend shares: append, contents, checkpoints, proofs, verify, migrations.

A backend (sqlite.py, postgres.py) supplies a DB-API connection, its error class, a write
transaction that serialises appenders (`_write`), its schema migrations and its append-only
guards; every statement here is plain SQL written with `?` placeholders, which a backend
rewrites if its driver wants another style (`_sql`).

Seqs are gapless from 1: they are assigned from MAX(seq) inside `_write`, which holds the
backend's append lock until commit, so any reader's snapshot holds a prefix of the log and
the Merkle tree over it is well defined.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditsvc.audit import merkle
from auditsvc.audit.canonical import canonical_json
from auditsvc.audit.log import Event, EventDraft, InclusionProof, Problem, VerifyReport, leaf_hash_of, leaf_json
from auditsvc.audit.signing import (
    Checkpoint,
    PublicKeyLike,
    load_key,
    load_or_create_key,
    load_public_key,
    parse_checkpoint_body,
    sign_checkpoint,
    verify_checkpoint,
)
from auditsvc.errors import AuditError

APPEND_ONLY = "audit log is append-only"
MAX_PROBLEMS = 100
TABLES = ("meta", "events", "contents", "checkpoints")
PAGE = 1000
_LOOKUP_CHUNK = 500

EVENT_COLUMNS = 'seq, type, natural_key, repo, ref, "commit", recorded_at, body, leaf_hash'
CHECKPOINT_COLUMNS = "size, root, time, body, signature"


def table_statements(integer: str) -> list[str]:
    """The tables and indexes of schema version 1, for a backend whose 64-bit integer type is `integer`.

    Bodies are TEXT on every backend: they are hashed byte for byte, so no JSON type may
    normalise them.
    """
    return [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE events (
            seq {integer} PRIMARY KEY,
            type TEXT NOT NULL,
            natural_key TEXT UNIQUE NOT NULL,
            repo TEXT,
            ref TEXT,
            "commit" TEXT,
            recorded_at TEXT NOT NULL,
            body TEXT NOT NULL,
            leaf_hash TEXT NOT NULL
        )""",
        'CREATE INDEX events_commit ON events ("commit")',
        "CREATE INDEX events_repo_ref ON events (repo, ref)",
        "CREATE INDEX events_type ON events (type)",
        "CREATE INDEX events_recorded_at ON events (recorded_at)",
        "CREATE TABLE contents (digest TEXT PRIMARY KEY, body TEXT NOT NULL)",
        f"""CREATE TABLE checkpoints (
            size {integer} PRIMARY KEY,
            root TEXT NOT NULL,
            time TEXT NOT NULL,
            body TEXT NOT NULL,
            signature TEXT NOT NULL
        )""",
    ]


class NoAuditLog(AuditError):
    """Opened with create=False where no log exists."""


class AuditLog(abc.ABC):
    """An append-only, tamper-evident event log; open one with `auditsvc.audit.open_log(url)`."""

    MIGRATIONS: ClassVar[Sequence[Sequence[str]]] = ()
    """MIGRATIONS[v] are the statements taking the schema from version v to v + 1 (0: empty)."""

    _errors: ClassVar[type[Exception] | tuple[type[Exception], ...]] = ()

    def __init__(self, db: Any, location: str, key_path: Path | None, clock: Callable[[], str]) -> None:
        self._db = db
        self.location = location  # how messages name the log (never a password)
        self.key_path = key_path
        self._clock = clock

    # --- what a backend provides ------------------------------------------------------------

    def _sql(self, statement: str) -> str:
        return statement

    @abc.abstractmethod
    def _write(self) -> contextlib.AbstractContextManager[None]:
        """One write transaction that holds the log's append lock from its start until commit."""

    @abc.abstractmethod
    def _schema_version_stored(self) -> int | None:
        """The stored schema version, None when the log has no schema yet."""

    @abc.abstractmethod
    def _table_names(self) -> set[str]:
        """The tables present (verify reports missing ones)."""

    @abc.abstractmethod
    def _broken_guards(self) -> list[str]:
        """Names of append-only guards (triggers) that are missing, altered or disabled."""

    def _missing_key_message(self) -> str:
        return f"no signing key configured for audit log {self.location}"

    # --- plumbing ---------------------------------------------------------------------------

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self._db.execute(self._sql(statement), params)

    def _executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(self._sql(statement), rows)

    def _one(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self._execute(statement, params).fetchone()

    def _all(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._execute(statement, params).fetchall()

    def _pages(self, statement: str, params: Sequence[Any], page: int = PAGE) -> Iterator[Any]:
        """Rows of `statement ... WHERE key > ? ORDER BY key LIMIT ?`, a page at a time.

        The statement takes the last key seen and the page size as its last two parameters,
        so a huge table never sits in memory and no cursor is held open between pages.
        """
        last: Any = params[-1] if params else None
        fixed = list(params[:-1])
        while True:
            rows = self._all(statement, [*fixed, last, page])
            yield from rows
            if len(rows) < page:
                return
            last = rows[-1][0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _migrate(self, create: bool = True) -> None:
        """Bring the schema to the newest version (creating it unless create is False).

        Runs under the append lock in one transaction, so concurrent openers see either the
        old or the new schema. A log written by a newer auditsvc is refused.
        """
        newest = len(self.MIGRATIONS)
        version = self._schema_version_stored()
        if version is None and not create:
            raise NoAuditLog(f"no audit log at {self.location}")
        if version is None or version < newest:  # only then take the lock: readers must not wait for writers
            with self._write():
                version = self._schema_version_stored()
                start = version or 0
                for statements in self.MIGRATIONS[start:]:
                    for statement in statements:
                        self._execute(statement)
                if version is None:
                    self._execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", [str(newest)])
                elif version < newest:
                    self._execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(newest)])
                version = max(version or 0, newest)
        if version != newest:
            raise AuditError(
                f"audit log {self.location} has schema version {version}; this auditsvc reads version {newest}"
            )

    # --- writing ----------------------------------------------------------------------------

    def append(self, events: Sequence[EventDraft]) -> list[int]:
        """Append events in one transaction; returns their seqs in order.

        A draft whose natural key is already in the log (or earlier in the same batch) adds
        nothing and gets the existing seq. All events of one call share one recorded_at.
        """
        drafts = list(events)
        bodies = [draft.check() for draft in drafts]
        if not drafts:
            return []
        try:
            with self._write():
                existing = self._existing_seqs(sorted({d.natural_key for d in drafts}))
                next_seq = self.size() + 1
                recorded_at = self._clock()
                rows: list[tuple[Any, ...]] = []
                seqs: list[int] = []
                for draft, body in zip(drafts, bodies):
                    seq = existing.get(draft.natural_key)
                    if seq is None:
                        seq = existing[draft.natural_key] = next_seq
                        next_seq += 1
                        columns = (seq, draft.type, draft.natural_key, draft.repo, draft.ref, draft.commit, recorded_at, body)
                        rows.append((*columns, leaf_hash_of(leaf_json(*columns)).hex()))
                    seqs.append(seq)
                self._insert_events(rows)
        except self._errors as err:
            raise AuditError(f"cannot append to audit log {self.location}: {err}") from None
        return seqs

    def _insert_events(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self._executemany(f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", rows)

    def _existing_seqs(self, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, seq in self._all(f"SELECT natural_key, seq FROM events WHERE natural_key IN ({marks})", chunk):
                found[key] = seq
        return found

    def put_content(self, value: Any) -> str:
        """Store a resource's contents once, by the SHA-256 of its canonical JSON; returns that digest."""
        body = canonical_json(value)
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        try:
            self._insert_contents([(digest, body)])
        except self._errors as err:
            raise AuditError(f"cannot store content in audit log {self.location}: {err}") from None
        return digest

    def _insert_contents(self, rows: Sequence[tuple[str, str]]) -> None:
        self._executemany("INSERT INTO contents (digest, body) VALUES (?, ?) ON CONFLICT (digest) DO NOTHING", rows)

    def get_content(self, digest: str) -> Any | None:
        """The value stored under digest, or None."""
        row = self._one("SELECT body FROM contents WHERE digest = ?", [digest])
        return None if row is None else json.loads(row[0])

    def checkpoint(self, origin: str) -> Checkpoint:
        """Sign and store the current tree head; returns the stored checkpoint for the current size.

        Idempotent: when a checkpoint for the current size exists (from any process), that one is
        returned unchanged, whatever its origin.
        """
        size = self.size()
        stored = self._checkpoint_at(size)
        if stored is not None:
            return stored
        root_hash = self.root(size)
        head = sign_checkpoint(self._signing_key(), origin, size, root_hash, self._clock())
        try:
            self._insert_checkpoints([(size, root_hash.hex(), head.time, head.body, head.signature_base64)])
        except self._errors as err:
            raise AuditError(f"cannot store checkpoint in audit log {self.location}: {err}") from None
        stored = self._checkpoint_at(size)  # another process may have won the race at this size
        assert stored is not None
        return stored

    def _insert_checkpoints(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._executemany(
            f"INSERT INTO checkpoints ({CHECKPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (size) DO NOTHING", rows
        )

    # --- reading ----------------------------------------------------------------------------

    def size(self) -> int:
        """The number of events (the tree size)."""
        return int(self._one("SELECT COALESCE(MAX(seq), 0) FROM events")[0])

    def get(self, seq: int) -> Event | None:
        row = self._one(f"SELECT {EVENT_COLUMNS} FROM events WHERE seq = ?", [seq])
        return None if row is None else _event(row)

    def seq_of(self, natural_key: str) -> int | None:
        """The seq of the event with this natural key, if recorded."""
        row = self._one("SELECT seq FROM events WHERE natural_key = ?", [natural_key])
        return None if row is None else row[0]

    def events(self, since_seq: int = 0) -> Iterator[Event]:
        """Events with seq > since_seq in seq order, read a page at a time."""
        for row in self.event_rows(since_seq):
            yield _event(row)

    def event_rows(self, since_seq: int = 0, until_seq: int | None = None) -> Iterator[tuple[Any, ...]]:
        """The stored columns (EVENT_COLUMNS order, body as stored text) of seqs since_seq+1..until_seq."""
        if until_seq is None:
            yield from self._pages(f"SELECT {EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", [since_seq])
        else:
            yield from self._pages(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE seq <= ? AND seq > ? ORDER BY seq LIMIT ?",
                [until_seq, since_seq],
            )

    def content_rows(self) -> Iterator[tuple[str, str]]:
        """Every stored (digest, canonical JSON body), in digest order."""
        yield from self._pages("SELECT digest, body FROM contents WHERE digest > ? ORDER BY digest LIMIT ?", [""])

    def checkpoint_rows(self) -> list[tuple[Any, ...]]:
        """Every stored checkpoint row (CHECKPOINT_COLUMNS order), by size."""
        return [tuple(row) for row in self._all(f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY size")]

    def latest_checkpoint(self) -> Checkpoint | None:
        row = self._one("SELECT body, signature FROM checkpoints ORDER BY size DESC LIMIT 1")
        return None if row is None else Checkpoint.from_body(row[0], row[1])

    def checkpoints(self) -> list[Checkpoint]:
        return [Checkpoint.from_body(body, signature) for body, signature in self._all("SELECT body, signature FROM checkpoints ORDER BY size")]

    def _checkpoint_at(self, size: int) -> Checkpoint | None:
        row = self._one("SELECT body, signature FROM checkpoints WHERE size = ?", [size])
        return None if row is None else Checkpoint.from_body(row[0], row[1])

    def public_key(self) -> Ed25519PublicKey:
        """The public half of the log's signing key (creating the key if it does not exist yet)."""
        return self._signing_key().public_key()

    def _signing_key(self) -> Ed25519PrivateKey:
        if self.key_path is None:
            raise AuditError(self._missing_key_message())
        return load_or_create_key(self.key_path)

    def _leaf_hash_rows(self, size: int) -> Iterator[tuple[int, str]]:
        yield from self._pages(
            "SELECT seq, leaf_hash FROM events WHERE seq <= ? AND seq > ? ORDER BY seq LIMIT ?", [size, 0], 20 * PAGE
        )

    def _leaf_hashes(self, size: int) -> merkle.HashList:
        """The stored leaf hashes of seqs 1..size (32 bytes each in one buffer; no bodies)."""
        return merkle.HashList(self._stored_leaf_hashes(size))

    def _stored_leaf_hashes(self, size: int) -> Iterator[bytes]:
        """The stored leaf hashes of seqs 1..size, in order; AuditError on a gap."""
        count = 0
        for expected, (seq, value) in enumerate(self._leaf_hash_rows(size), start=1):
            if seq != expected:
                raise AuditError(f"audit log {self.location} is missing seq {expected}; run verify")
            count = expected
            yield bytes.fromhex(value)
        if count != size:
            raise AuditError(f"audit log {self.location} has {count} events, not {size}")

    def root(self, size: int | None = None) -> bytes:
        """The Merkle tree hash over the stored leaf hashes of the first size events (default: all)."""
        size = self.size() if size is None else size
        builder = merkle.TreeBuilder()
        for seq, value in self._leaf_hash_rows(size):
            if seq != builder.size + 1:
                raise AuditError(f"audit log {self.location} is missing seq {builder.size + 1}; run verify")
            builder.append(bytes.fromhex(value))
        if builder.size != size:
            raise AuditError(f"audit log {self.location} has {builder.size} events, not {size}")
        return builder.root()

    def prove(self, seq: int, size: int | None = None) -> InclusionProof:
        """Inclusion proof of event seq in the tree of `size` events.

        size defaults to the latest checkpoint, so the proof verifies against a signed head;
        AuditError when the event is not covered by one yet (call checkpoint() first).
        """
        if size is None:
            head = self.latest_checkpoint()
            if head is None or head.size < seq:
                covered = f"the latest checkpoint covers 1..{head.size}" if head else "there is no checkpoint"
                raise AuditError(f"event {seq} is not covered by a signed checkpoint ({covered}); checkpoint first")
            size = head.size
        current = self.size()
        if not 1 <= seq <= size <= current:
            raise AuditError(f"cannot prove event {seq} in a tree of size {size} (the log has {current} events)")
        hashes = self._leaf_hashes(size)
        event = self.get(seq)
        assert event is not None
        return InclusionProof(
            seq=seq,
            index=seq - 1,
            size=size,
            leaf_hash=hashes[seq - 1].hex(),
            path=tuple(p.hex() for p in merkle.inclusion_proof(hashes, seq - 1)),
            root=merkle.root(hashes).hex(),
            leaf=event.leaf,
        )

    def prove_many(self, seqs: Iterable[int], size: int) -> Iterator[InclusionProof]:
        """Inclusion proofs (without the leaf JSON) of many events in the tree of `size`, in the
        order given: the tree is read once, so each further proof costs O(log size)."""
        current = self.size()
        if not 0 < size <= current:
            raise AuditError(f"cannot prove events in a tree of size {size} (the log has {current} events)")
        tree = merkle.ProofTree(self._stored_leaf_hashes(size))
        root_hex = tree.root().hex()
        for seq in seqs:
            if not 1 <= seq <= size:
                raise AuditError(f"cannot prove event {seq} in a tree of size {size}")
            path = tuple(p.hex() for p in tree.path(seq - 1))
            yield InclusionProof(seq, seq - 1, size, tree.leaf(seq - 1).hex(), path, root_hex)

    def prove_consistency(self, old_size: int, new_size: int | None = None) -> list[str]:
        """RFC 6962 consistency proof (hex) that the tree of old_size is a prefix of new_size."""
        new_size = self.size() if new_size is None else new_size
        if not 0 < old_size <= new_size <= self.size():
            raise AuditError(f"cannot prove consistency from size {old_size} to {new_size}")
        return [p.hex() for p in merkle.consistency_proof(self._leaf_hashes(new_size), old_size)]

    # --- copying (auditsvc migrate) ---------------------------------------------------------

    def copy_in(
        self,
        events: Iterable[tuple[Any, ...]],
        contents: Iterable[tuple[str, str]],
        checkpoints: Iterable[tuple[Any, ...]],
        batch: int = PAGE,
    ) -> int:
        """Store rows read from another log exactly as they are (seq, recorded_at, body text, hashes).

        Events must continue this log without a gap; contents and checkpoints already here are
        left as they are. Each batch is one transaction, so an interrupted copy resumes.
        Returns the number of events stored.
        """
        copied = 0
        try:
            pending: list[tuple[Any, ...]] = []
            for row in events:
                pending.append(tuple(row))
                if len(pending) >= batch:
                    copied += self._copy_events(pending)
                    pending = []
            copied += self._copy_events(pending)
            rows: list[tuple[str, str]] = []
            for row in contents:
                rows.append((row[0], row[1]))
                if len(rows) >= batch:
                    self._insert_contents(rows)
                    rows = []
            if rows:
                self._insert_contents(rows)
            heads = [tuple(row) for row in checkpoints]
            if heads:
                self._insert_checkpoints(heads)
        except self._errors as err:
            raise AuditError(f"cannot copy into audit log {self.location}: {err}") from None
        return copied

    def _copy_events(self, rows: list[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        with self._write():
            size = self.size()
            if [row[0] for row in rows] != list(range(size + 1, size + 1 + len(rows))):
                raise AuditError(
                    f"audit log {self.location} has {size} events; the copied events start at seq {rows[0][0]}"
                )
            self._insert_events(rows)
        return len(rows)

    # --- verification -----------------------------------------------------------------------

    def verify(self, public_key: PublicKeyLike | None = None) -> VerifyReport:
        """Recompute everything from the rows; never raises for a corrupted database.

        Checks every event's leaf hash against its columns, that seqs run 1..n without gaps,
        the tree root at every checkpoint size, every checkpoint's body and signature (with
        public_key, default: the log's key file), every content digest and the append-only
        guards. Problems come in log order, so report.first names the first bad event.
        """
        problems: list[Problem] = []
        counts = {"events": 0, "checkpoints": 0}
        try:
            self._verify(public_key, problems, counts)
        except _TooMany:
            return VerifyReport(counts["events"], counts["checkpoints"], tuple(problems), truncated=True)
        except (*_as_tuple(self._errors), AuditError, ValueError, TypeError, OSError) as err:
            problems.append(Problem(f"cannot read the audit log: {err}"))
        return VerifyReport(counts["events"], counts["checkpoints"], tuple(problems))

    def _verify(self, public_key: PublicKeyLike | None, problems: list[Problem], counts: dict[str, int]) -> None:
        def report(problem: Problem) -> None:
            problems.append(problem)
            if len(problems) >= MAX_PROBLEMS:
                raise _TooMany

        tables = self._table_names()
        missing = [t for t in TABLES if t not in tables]
        if missing:
            report(Problem(f"table(s) {', '.join(missing)} missing"))
            if "events" not in tables:
                return

        key = self._verifying_key(public_key, report) if "checkpoints" in tables else None
        heads: dict[int, tuple[Any, ...]] = {}
        if "checkpoints" in tables:
            for row in self.checkpoint_rows():
                heads[row[0]] = row

        builder = merkle.TreeBuilder()
        last_good_head = 0
        if 0 in heads and self._check_head(heads.pop(0), merkle.EMPTY_ROOT, 0, key, report):
            counts["checkpoints"] += 1
        expected = 1
        for row in self.event_rows():
            seq = row[0]
            counts["events"] += 1
            if not isinstance(seq, int) or seq < expected:
                report(Problem(f"unexpected seq {seq!r}", seq=seq if isinstance(seq, int) else None))
                continue
            if seq > expected:
                gap = f"missing seq {expected}" if seq == expected + 1 else f"missing seqs {expected}..{seq - 1}"
                report(Problem(gap, seq=expected))
            expected = seq + 1
            leaf_hash = self._check_event(row, report)
            builder.append(leaf_hash)
            if builder.size in heads:
                if self._check_head(heads.pop(builder.size), builder.root(), last_good_head, key, report):
                    counts["checkpoints"] += 1
                    last_good_head = builder.size
        for size in sorted(heads):
            report(Problem(f"checkpoint at size {size}: the log has only {builder.size} events", checkpoint=size))

        broken = self._broken_guards()
        if broken:
            report(Problem(f"append-only trigger(s) missing or altered: {', '.join(broken)}"))

        if "contents" in tables:
            for digest, body in self.content_rows():
                actual = hashlib.sha256(body.encode("utf-8")).hexdigest() if isinstance(body, str) else None
                if actual != digest:
                    report(Problem(f"content {digest}: digest mismatch"))

    def _check_event(self, row: tuple[Any, ...], report: Callable[[Problem], None]) -> bytes:
        """Report what is wrong with one event row; returns the leaf hash recomputed from its columns."""
        seq, body, stored = row[0], row[7], row[8]
        try:
            leaf = leaf_json(*row[:8])
        except (ValueError, TypeError):
            report(Problem("body is not valid JSON", seq=seq))
            return bytes.fromhex(stored) if _is_hex32(stored) else bytes(32)
        recomputed = leaf_hash_of(leaf)
        if not _is_hex32(stored) or bytes.fromhex(stored) != recomputed:
            report(Problem("leaf hash mismatch", seq=seq))
        elif canonical_json(json.loads(body)) != body:
            report(Problem("body is not canonical JSON", seq=seq))
        return recomputed

    def _check_head(
        self,
        row: tuple[Any, ...],
        computed_root: bytes,
        last_good: int,
        key: Ed25519PublicKey | None,
        report: Callable[[Problem], None],
    ) -> bool:
        size, root_hex, time, body, signature = row
        where = f"checkpoint at size {size}"
        try:
            origin, body_size, body_root, body_time = parse_checkpoint_body(body)
        except (AuditError, TypeError, AttributeError) as err:
            report(Problem(f"{where}: malformed body ({err})", checkpoint=size))
            return False
        ok = True
        if (body_size, body_root.hex(), body_time) != (size, root_hex, time):
            report(Problem(f"{where}: row does not match its signed body", checkpoint=size))
            ok = False
        if body_root != computed_root:
            report(
                Problem(
                    f"{where}: root mismatch (an event in seq {last_good + 1}..{size} differs from what was signed)",
                    checkpoint=size,
                )
            )
            ok = False
        if key is not None and not verify_checkpoint(body, signature if isinstance(signature, str) else b"", key):
            report(Problem(f"{where}: bad signature", checkpoint=size))
            ok = False
        return ok and key is not None

    def _verifying_key(
        self, public_key: PublicKeyLike | None, report: Callable[[Problem], None]
    ) -> Ed25519PublicKey | None:
        has_heads = self._one("SELECT EXISTS (SELECT 1 FROM checkpoints)")[0]
        try:
            if public_key is not None:
                return load_public_key(public_key)
            if self.key_path is None:
                if has_heads:
                    report(Problem(f"checkpoint signatures not checked: {self._missing_key_message()}"))
                return None
            if not self.key_path.exists():
                if has_heads:
                    report(Problem(f"checkpoint signatures not checked: no key file {self.key_path}"))
                return None
            return load_key(self.key_path).public_key()
        except AuditError as err:
            report(Problem(f"checkpoint signatures not checked: {err}"))
            return None


class _TooMany(Exception):
    pass


def _as_tuple(errors: type[Exception] | tuple[type[Exception], ...]) -> tuple[type[Exception], ...]:
    return errors if isinstance(errors, tuple) else (errors,)


def _is_hex32(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 64:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def _event(row: Sequence[Any]) -> Event:
    seq, type_, natural_key, repo, ref, commit, recorded_at, body, leaf_hash = row
    return Event(seq, type_, natural_key, repo, ref, commit, recorded_at, json.loads(body), leaf_hash)
