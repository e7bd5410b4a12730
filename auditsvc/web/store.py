"""The service's own state, in one SQLite file beside the mirrors (not in the audit log):
the persisted webhook delivery queue, API tokens (hashed), and access records waiting to be
appended to the audit log.

Every gunicorn worker opens it; claims are atomic (BEGIN IMMEDIATE), so a delivery is worked on
by one worker at a time, and a claim whose worker died is taken again after its lease.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from auditsvc.audit.canonical import utc_now
from auditsvc.errors import ConfigError

ROLES = ("reader", "auditor", "admin")
TOKEN_PREFIX = "asvc_"
LEASE_SECONDS = 600  # a claim older than this belongs to a worker that died
MAX_ATTEMPTS = 5
RETRY_SECONDS = 30  # after a failure, then doubling: the host or the store may be back by then

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS deliveries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT UNIQUE NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued',
        attempts INTEGER NOT NULL DEFAULT 0,
        available_at REAL NOT NULL DEFAULT 0,
        claimed_at REAL,
        result TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (status, seq)",
    """CREATE TABLE IF NOT EXISTS tokens (
        name TEXT PRIMARY KEY,
        digest TEXT UNIQUE NOT NULL,
        role TEXT NOT NULL,
        repos TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS pending_access (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT UNIQUE NOT NULL,
        body TEXT NOT NULL
    )""",
]


@dataclasses.dataclass(frozen=True)
class Token:
    name: str
    role: str
    repos: tuple[str, ...]  # empty: every repository
    created_at: str
    revoked_at: str | None = None

    def allows(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def sees(self, repo: str | None) -> bool:
        return not self.repos or repo in self.repos

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "repos": list(self.repos)}


@dataclasses.dataclass(frozen=True)
class Delivery:
    seq: int
    id: str
    kind: str  # github, gitlab, gitea, flux
    payload: dict[str, Any]
    attempts: int


def digest_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ServiceStore:
    """Open with ServiceStore.open(settings.service_dir); one connection per thread."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self.path = path

    @classmethod
    def open(cls, directory: Path) -> ServiceStore:
        path = Path(directory) / "service.db"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, timeout=30)
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA journal_mode = wal")
            db.execute("PRAGMA synchronous = NORMAL")
        except (OSError, sqlite3.Error) as err:
            raise ConfigError(f"cannot open the service state {path}: {err}") from None
        store = cls(db, path)
        with store._write():
            for statement in _SCHEMA:
                db.execute(statement)
        return store

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ServiceStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    # --- deliveries -------------------------------------------------------------------------

    def enqueue(self, delivery_id: str, kind: str, payload: dict[str, Any]) -> bool:
        """Queue a delivery; False when this delivery id was queued before (a redelivery)."""
        with self._write():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO deliveries (id, kind, payload, received_at) VALUES (?, ?, ?, ?)",
                [delivery_id, kind, json.dumps(payload), utc_now()],
            )
        return cursor.rowcount == 1

    def claim(self) -> Delivery | None:
        """The oldest queued delivery (or one whose lease ran out), now claimed by the caller."""
        now = time.time()
        with self._write():
            row = self._db.execute(
                "SELECT seq, id, kind, payload, attempts FROM deliveries "
                "WHERE (status = 'queued' AND available_at <= ?) OR (status = 'working' AND claimed_at < ?) "
                "ORDER BY seq LIMIT 1",
                [now, now - LEASE_SECONDS],
            ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE deliveries SET status = 'working', claimed_at = ?, attempts = attempts + 1 WHERE seq = ?",
                [now, row[0]],
            )
        return Delivery(row[0], row[1], row[2], json.loads(row[3]), row[4] + 1)

    def finish(self, delivery: Delivery, result: dict[str, Any]) -> None:
        """Done, or, after a failure, queued again with a growing delay until MAX_ATTEMPTS (then
        failed, kept for inspection)."""
        failed = "failure" in result
        status = "done" if not failed else ("failed" if delivery.attempts >= MAX_ATTEMPTS else "queued")
        available = time.time() + RETRY_SECONDS * 2 ** (delivery.attempts - 1) if failed else 0
        with self._write():
            self._db.execute(
                "UPDATE deliveries SET status = ?, result = ?, claimed_at = NULL, available_at = ? WHERE seq = ?",
                [status, json.dumps(result), available, delivery.seq],
            )

    def release_claims(self) -> int:
        """Queue again every claimed delivery: at start-up no worker is working on any."""
        with self._write():
            return self._db.execute("UPDATE deliveries SET status = 'queued', claimed_at = NULL WHERE status = 'working'").rowcount

    def queue_depth(self) -> dict[str, int]:
        counts = dict(self._db.execute("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall())
        return {status: counts.get(status, 0) for status in ("queued", "working", "done", "failed")}

    # --- tokens -----------------------------------------------------------------------------

    def create_token(self, name: str, role: str, repos: Sequence[str] = ()) -> str:
        """A new token; only its digest is stored, so the returned secret is shown once."""
        if role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not name.strip():
            raise ConfigError("a token needs a name (who or what uses it)")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with self._write():
                self._db.execute(
                    "INSERT INTO tokens (name, digest, role, repos, created_at) VALUES (?, ?, ?, ?, ?)",
                    [name, digest_token(secret), role, json.dumps(sorted(set(repos))), utc_now()],
                )
        except sqlite3.IntegrityError:
            raise ConfigError(f"a token named {name!r} exists: revoke it first or pick another name") from None
        return secret

    def revoke_token(self, name: str) -> bool:
        with self._write():
            cursor = self._db.execute(
                "UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", [utc_now(), name]
            )
        return cursor.rowcount == 1

    def token(self, secret: str) -> Token | None:
        """The live token with this secret (looked up by its SHA-256: no secret is stored)."""
        row = self._db.execute(
            "SELECT name, role, repos, created_at, revoked_at FROM tokens WHERE digest = ? AND revoked_at IS NULL",
            [digest_token(secret)],
        ).fetchone()
        return None if row is None else Token(row[0], row[1], tuple(json.loads(row[2])), row[3], row[4])

    def tokens(self) -> list[Token]:
        rows = self._db.execute("SELECT name, role, repos, created_at, revoked_at FROM tokens ORDER BY name").fetchall()
        return [Token(r[0], r[1], tuple(json.loads(r[2])), r[3], r[4]) for r in rows]

    # --- access records ---------------------------------------------------------------------

    def note_access(self, body: dict[str, Any]) -> None:
        """Keep an access record until `take_access` moves it into the audit log."""
        key = f"access:{utc_now()}:{secrets.token_hex(8)}"
        with self._write():
            self._db.execute("INSERT INTO pending_access (key, body) VALUES (?, ?)", [key, json.dumps(body)])

    @contextlib.contextmanager
    def take_access(self, limit: int = 1000) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        """Pending access records (natural key, body); removed when the block ends without error."""
        rows = self._db.execute("SELECT id, key, body FROM pending_access ORDER BY id LIMIT ?", [limit]).fetchall()
        yield [(key, json.loads(body)) for _, key, body in rows]
        if rows:
            with self._write():
                self._db.execute("DELETE FROM pending_access WHERE id <= ?", [rows[-1][0]])

