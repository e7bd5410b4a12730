"""The embedded audit log backend: one SQLite file (WAL) through sqlite-utils.

    log = SqliteAuditLog.open("sqlite:///var/audit.db")       # key: var/audit.db.key
    seqs = log.append([EventDraft("push", "push:r1:refs/heads/main", "infra", "refs/heads/main", sha, {...})])
    head = log.checkpoint("auditsvc.example.com/infra")
    proof = log.prove(seqs[0])                                  # against the latest checkpoint
    verify_proof(proof.to_json(), head.to_dict(), log.public_key())   # offline
    print(log.verify())

URLs follow the SQLAlchemy convention: sqlite:///relative/path.db, sqlite:////absolute/path.db.
Tables are append-only (triggers abort UPDATE and DELETE); seqs are gapless from 1 and
assigned under BEGIN IMMEDIATE, so several processes may append at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time as _time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditsvc.audit import merkle
from auditsvc.audit.canonical import canonical_json, utc_now
from auditsvc.audit.log import (
    Event,
    EventDraft,
    InclusionProof,
    Problem,
    VerifyReport,
    leaf_hash_of,
    leaf_json,
)
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

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
APPEND_ONLY = "audit log is append-only"
MAX_PROBLEMS = 100
_PAGE = 1000
_LOOKUP_CHUNK = 500

_EVENT_COLUMNS = 'seq, type, natural_key, repo, ref, "commit", recorded_at, body, leaf_hash'

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        natural_key TEXT UNIQUE NOT NULL,
        repo TEXT,
        ref TEXT,
        "commit" TEXT,
        recorded_at TEXT NOT NULL,
        body TEXT NOT NULL,
        leaf_hash TEXT NOT NULL
    )""",
    'CREATE INDEX IF NOT EXISTS events_commit ON events ("commit")',
    "CREATE INDEX IF NOT EXISTS events_repo_ref ON events (repo, ref)",
    "CREATE INDEX IF NOT EXISTS events_type ON events (type)",
    "CREATE INDEX IF NOT EXISTS events_recorded_at ON events (recorded_at)",
    "CREATE TABLE IF NOT EXISTS contents (digest TEXT PRIMARY KEY, body TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS checkpoints (
        size INTEGER PRIMARY KEY,
        root TEXT NOT NULL,
        time TEXT NOT NULL,
        body TEXT NOT NULL,
        signature TEXT NOT NULL
    )""",
]
_TRIGGERS = {f"{t}_no_{op}": t for t in ("events", "contents", "checkpoints") for op in ("update", "delete", "replace")}
for _table in ("events", "contents", "checkpoints"):
    for _op in ("UPDATE", "DELETE"):
        _SCHEMA.append(
            f"CREATE TRIGGER IF NOT EXISTS {_table}_no_{_op.lower()} BEFORE {_op} ON {_table} "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
# INSERT OR REPLACE deletes the old row without firing DELETE triggers (unless recursive_triggers
# is on), so refuse inserts that collide: an error for events, a silent no-op for the
# content-addressed and idempotent tables.
_SCHEMA += [
    "CREATE TRIGGER IF NOT EXISTS events_no_replace BEFORE INSERT ON events "
    "WHEN EXISTS (SELECT 1 FROM events WHERE seq = NEW.seq OR natural_key = NEW.natural_key) "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
    "CREATE TRIGGER IF NOT EXISTS contents_no_replace BEFORE INSERT ON contents "
    "WHEN EXISTS (SELECT 1 FROM contents WHERE digest = NEW.digest) BEGIN SELECT RAISE(IGNORE); END",
    "CREATE TRIGGER IF NOT EXISTS checkpoints_no_replace BEFORE INSERT ON checkpoints "
    "WHEN EXISTS (SELECT 1 FROM checkpoints WHERE size = NEW.size) BEGIN SELECT RAISE(IGNORE); END",
]


def path_from_url(url: str | os.PathLike[str]) -> Path:
    """The database file named by sqlite:///relative/path.db or sqlite:////absolute/path.db."""
    if isinstance(url, os.PathLike):
        return Path(url)
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise AuditError(
            f"audit log URL {url!r} is not supported here: use sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    rest = url[len(prefix) :]
    if rest == ":memory:" or "?" in rest:
        raise AuditError(f"audit log URL {url!r}: the audit log must be a file, without query parameters")
    return Path(rest)


class SqliteAuditLog:
    """An append-only, tamper-evident event log in one SQLite file. Use `SqliteAuditLog.open`."""

    def __init__(self, db: sqlite3.Connection, path: Path, key_path: Path, clock: Callable[[], str]) -> None:
        self._db = db
        self.path = path
        self.key_path = key_path
        self._clock = clock

    # --- opening ----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        url: str | os.PathLike[str],
        key_path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], str] | None = None,
    ) -> SqliteAuditLog:
        """Open (creating file, parent directories and schema if needed) the log at url.

        The signing key defaults to `<db file>.key` next to the database; it is created, mode
        0600, the first time a checkpoint is signed. clock returns RFC 3339 UTC timestamps
        (for tests; defaults to the system clock).
        """
        path = path_from_url(url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise AuditError(f"cannot create directory for audit log {path}: {err.strerror}") from None
        try:
            # Autocommit mode: every transaction is an explicit BEGIN IMMEDIATE ... COMMIT.
            db = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as err:
            raise AuditError(f"cannot open audit log {path}: {err}") from None
        log = cls(db, path, Path(key_path) if key_path is not None else Path(f"{path}.key"), clock or utc_now)
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            log._enable_wal()
            log._create_schema()
        except sqlite3.DatabaseError as err:
            db.close()
            raise AuditError(f"cannot open audit log {path}: {err}") from None
        except BaseException:
            db.close()
            raise
        return log

    def _enable_wal(self) -> None:
        deadline = _time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = wal")
                return
            except sqlite3.OperationalError as err:  # another process is creating the file
                if "locked" not in str(err) or _time.monotonic() > deadline:
                    raise
                _time.sleep(0.01)

    def _create_schema(self) -> None:
        version = self._schema_version()
        if version is None:  # only a new file needs the write lock (a reader must not wait for writers)
            with self._write():
                version = self._schema_version()
                if version is None:
                    for statement in _SCHEMA:
                        self._db.execute(statement)
                    self._db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
                    version = str(SCHEMA_VERSION)
        if version != str(SCHEMA_VERSION):
            raise AuditError(
                f"audit log {self.path} has schema version {version}; this auditsvc reads version {SCHEMA_VERSION}"
            )

    def _schema_version(self) -> str | None:
        if self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
            return None
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteAuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction holding the database write lock from its start."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            raise AuditError(f"audit log {self.path} is busy: {err}") from None
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

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
                next_seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events").fetchone()[0]
                recorded_at = self._clock()
                rows: list[tuple[Any, ...]] = []
                seqs: list[int] = []
                for draft, body in zip(drafts, bodies):
                    seq = existing.get(draft.natural_key)
                    if seq is None:
                        seq = existing[draft.natural_key] = next_seq
                        next_seq += 1
                        leaf = leaf_json(
                            seq, draft.type, draft.natural_key, draft.repo, draft.ref, draft.commit, recorded_at, body
                        )
                        rows.append(
                            (seq, draft.type, draft.natural_key, draft.repo, draft.ref, draft.commit, recorded_at, body,
                             leaf_hash_of(leaf).hex())
                        )
                    seqs.append(seq)
                if rows:
                    self._db.executemany(f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", rows)
        except sqlite3.Error as err:
            raise AuditError(f"cannot append to audit log {self.path}: {err}") from None
        return seqs

    def _existing_seqs(self, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, seq in self._db.execute(f"SELECT natural_key, seq FROM events WHERE natural_key IN ({marks})", chunk):
                found[key] = seq
        return found

    def put_content(self, value: Any) -> str:
        """Store a resource's contents once, by the SHA-256 of its canonical JSON; returns that digest."""
        body = canonical_json(value)
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        try:
            self._db.execute("INSERT INTO contents (digest, body) VALUES (?, ?)", [digest, body])
        except sqlite3.Error as err:
            raise AuditError(f"cannot store content in audit log {self.path}: {err}") from None
        return digest

    def get_content(self, digest: str) -> Any | None:
        """The value stored under digest, or None."""
        row = self._db.execute("SELECT body FROM contents WHERE digest = ?", [digest]).fetchone()
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
        key = self._signing_key()
        head = sign_checkpoint(key, origin, size, root_hash, self._clock())
        try:
            self._db.execute(
                "INSERT INTO checkpoints (size, root, time, body, signature) VALUES (?, ?, ?, ?, ?)",
                [size, root_hash.hex(), head.time, head.body, head.signature_base64],
            )
        except sqlite3.Error as err:
            raise AuditError(f"cannot store checkpoint in audit log {self.path}: {err}") from None
        stored = self._checkpoint_at(size)  # another process may have won the race at this size
        assert stored is not None
        return stored

    # --- reading ----------------------------------------------------------------------------

    def size(self) -> int:
        """The number of events (the tree size)."""
        return self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]

    def get(self, seq: int) -> Event | None:
        row = self._db.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq = ?", [seq]).fetchone()
        return None if row is None else _event(row)

    def seq_of(self, natural_key: str) -> int | None:
        """The seq of the event with this natural key, if recorded."""
        row = self._db.execute("SELECT seq FROM events WHERE natural_key = ?", [natural_key]).fetchone()
        return None if row is None else row[0]

    def events(self, since_seq: int = 0) -> Iterator[Event]:
        """Events with seq > since_seq in seq order, read a page at a time."""
        last = since_seq
        while True:
            rows = self._db.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", [last, _PAGE]
            ).fetchall()
            for row in rows:
                yield _event(row)
            if len(rows) < _PAGE:
                return
            last = rows[-1][0]

    def latest_checkpoint(self) -> Checkpoint | None:
        row = self._db.execute("SELECT body, signature FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        return None if row is None else Checkpoint.from_body(row[0], row[1])

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._db.execute("SELECT body, signature FROM checkpoints ORDER BY size").fetchall()
        return [Checkpoint.from_body(body, signature) for body, signature in rows]

    def _checkpoint_at(self, size: int) -> Checkpoint | None:
        row = self._db.execute("SELECT body, signature FROM checkpoints WHERE size = ?", [size]).fetchone()
        return None if row is None else Checkpoint.from_body(row[0], row[1])

    def public_key(self) -> Ed25519PublicKey:
        """The public half of the log's signing key (creating the key if it does not exist yet)."""
        return self._signing_key().public_key()

    def _signing_key(self) -> Ed25519PrivateKey:
        return load_or_create_key(self.key_path)

    def _leaf_hashes(self, size: int) -> merkle.HashList:
        """The stored leaf hashes of seqs 1..size (32 bytes each in one buffer; no bodies)."""
        return merkle.HashList(self._stored_leaf_hashes(size))

    def _stored_leaf_hashes(self, size: int) -> Iterator[bytes]:
        """The stored leaf hashes of seqs 1..size, in order; AuditError on a gap."""
        cursor = self._db.execute("SELECT seq, leaf_hash FROM events WHERE seq <= ? ORDER BY seq", [size])
        count = 0
        for expected, (seq, value) in enumerate(cursor, start=1):
            if seq != expected:
                raise AuditError(f"audit log {self.path} is missing seq {expected}; run verify")
            count = expected
            yield bytes.fromhex(value)
        if count != size:
            raise AuditError(f"audit log {self.path} has {count} events, not {size}")

    def root(self, size: int | None = None) -> bytes:
        """The Merkle tree hash over the stored leaf hashes of the first size events (default: all)."""
        size = self.size() if size is None else size
        builder = merkle.TreeBuilder()
        cursor = self._db.execute("SELECT seq, leaf_hash FROM events WHERE seq <= ? ORDER BY seq", [size])
        for seq, value in cursor:
            if seq != builder.size + 1:
                raise AuditError(f"audit log {self.path} is missing seq {builder.size + 1}; run verify")
            builder.append(bytes.fromhex(value))
        if builder.size != size:
            raise AuditError(f"audit log {self.path} has {builder.size} events, not {size}")
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

    # --- verification -----------------------------------------------------------------------

    def verify(self, public_key: PublicKeyLike | None = None) -> VerifyReport:
        """Recompute everything from the rows; never raises for a corrupted database.

        Checks every event's leaf hash against its columns, that seqs run 1..n without gaps,
        the tree root at every checkpoint size, every checkpoint's body and signature (with
        public_key, default: the log's key file), and every content digest. Problems come in
        log order, so report.first names the first bad event.
        """
        problems: list[Problem] = []
        counts = {"events": 0, "checkpoints": 0}
        try:
            self._verify(public_key, problems, counts)
        except _TooMany:
            return VerifyReport(counts["events"], counts["checkpoints"], tuple(problems), truncated=True)
        except (sqlite3.Error, AuditError, ValueError, TypeError, OSError) as err:
            problems.append(Problem(f"cannot read the audit log: {err}"))
        return VerifyReport(counts["events"], counts["checkpoints"], tuple(problems))

    def _verify(self, public_key: PublicKeyLike | None, problems: list[Problem], counts: dict[str, int]) -> None:
        def report(problem: Problem) -> None:
            problems.append(problem)
            if len(problems) >= MAX_PROBLEMS:
                raise _TooMany

        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in ("meta", "events", "contents", "checkpoints") if t not in tables]
        if missing:
            report(Problem(f"table(s) {', '.join(missing)} missing"))
            if "events" not in tables:
                return

        key = self._verifying_key(public_key, report) if "checkpoints" in tables else None
        heads: dict[int, tuple[Any, ...]] = {}
        if "checkpoints" in tables:
            for row in self._db.execute("SELECT size, root, time, body, signature FROM checkpoints ORDER BY size"):
                heads[row[0]] = row

        builder = merkle.TreeBuilder()
        last_good_head = 0
        if 0 in heads and self._check_head(heads.pop(0), merkle.EMPTY_ROOT, 0, key, report):
            counts["checkpoints"] += 1
        expected = 1
        cursor = self._db.execute(f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY seq")
        for row in cursor:
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

        present = {
            name: table for name, table in self._db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
        }
        broken = sorted(name for name, table in _TRIGGERS.items() if present.get(name) != table)
        if broken:
            report(Problem(f"append-only trigger(s) missing or altered: {', '.join(broken)}"))

        if "contents" in tables:
            for digest, body in self._db.execute("SELECT digest, body FROM contents ORDER BY digest"):
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
        has_heads = self._db.execute("SELECT EXISTS (SELECT 1 FROM checkpoints)").fetchone()[0]
        try:
            if public_key is not None:
                return load_public_key(public_key)
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


def open(  # noqa: A001 - the module's entry point, as in `sqlite.open(url)`
    url: str | os.PathLike[str], key_path: str | os.PathLike[str] | None = None, *, clock: Callable[[], str] | None = None
) -> SqliteAuditLog:
    """Open the SQLite audit log at url; see SqliteAuditLog.open."""
    return SqliteAuditLog.open(url, key_path, clock=clock)
