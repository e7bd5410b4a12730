"""Who changed what, when: queries over the audit log, for the CLI and the HTTP API.

    history(log, "Deployment", "shop", "web")           # every change of one resource, oldest first
    history_by_path(log, "apps/web.yaml")
    changes(log, actor="alice", field="spec.template.spec.containers[*].image", since="7d")
    show(log, "3f2a1c9e")                                # pushes, changes, overrides of one commit
    state(log, "2026-01-31T12:00:00Z", ref="main")       # the desired state as of a time or commit

Time of a change. A pushed change landed when post-receive saw the refs move (the pushed_at of
its event, the push time; the background recorder writes the event a little later, or much later
after a store outage). Imported history (`auditsvc import`) has no known push time: its commit
(committer) time stands in. `since`, `until`, `state --at` and the order of results use this time ("time"
in the results), then seq.

The index. Queries read derived tables kept in the log's SQLite file beside the events (for a
PostgreSQL log: in a local SQLite replica of its events, `<cache dir>/replicas/<hash of the
URL>.db`, which gains the new events before each query; see audit.migrate.refresh_replica):
`change_index_streams` (one row per resource per repo, ref and apiVersion), `change_index`
(one row per change event, keyed by seq and indexed by stream and time: what a listing shows,
with the diff when it is short), `change_index_actors` (pusher name/email and author name/email,
lowercased), `change_index_paths` (files, and the files renames left),
`change_index_fields` (diff paths, also with list indices generalised to [*]),
`change_index_commits` (the commits a push brought besides its tip; the events table already
indexes each event's own commit) and `change_index_meta` (index version, last indexed seq).
They are derived data, rebuildable from the events at any time (`rebuild_index`): not part of
the tamper-evident Merkle tree and without append-only triggers; `auditsvc verify` checks the
events they are derived from, and `rebuild_index` replaces anything done to them by hand.
Before each query the events appended since the last indexed seq are indexed (two point reads
when there are none), in write transactions of about a second at most, so hooks waiting for
the write lock are not held up; the first query on a large log that was never indexed builds
the whole index (60-110 s per million change events measured here).

Refs. A change event names the ref it landed on (gate.landing_events): a commit new to the
repository under the first ref that brought it; a commit brought later to another ref's
first-parent line (a fast-forward), again under that ref (a merge's own diff holds the commits
it merged); a force push's rewind to the merge base under its ref, labelled with the new tip.
So a stream's last change is what its ref holds. Limits: a ref created at commits other refs
already hold has no changes of its own for them (state with --ref shows what it received since),
and a deleted ref keeps its last state. Creating or deleting a resource is a change of no field
(--field matches diffs).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import re
import sqlite3
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from auditsvc.audit.log import Event
from auditsvc.audit.migrate import refresh_replica
from auditsvc.audit.sqlite import SqliteAuditLog
from auditsvc.config import default_cache_dir
from auditsvc.errors import AuditError, ConfigError

INDEX_VERSION = "12"
DEFAULT_LIMIT = 100
_CHUNK = 10_000  # events indexed per write transaction at first
_MAX_CHUNK = 200_000
_TARGET_SECONDS = 1.0  # per indexing transaction: hooks wait up to 10 s for the write lock
_CACHE_KIB = 131_072
_MMAP_BYTES = 8 * 2**30  # SQLite caps it at its compile-time limit
_BUSY_TIMEOUT_MS = 10_000
_INFINITE_SEQ = 2**62
_DIFF_INLINE = 1000  # longer diffs stay in the event only (read from there when needed)

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS change_index_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # One stream per resource per repo, ref and apiVersion.
    """CREATE TABLE IF NOT EXISTS change_index_streams (
        rid INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        namespace TEXT NOT NULL,
        name TEXT NOT NULL,
        repo TEXT NOT NULL,
        ref TEXT NOT NULL,
        api_version TEXT NOT NULL,
        UNIQUE (kind, namespace, name, repo, ref, api_version)
    )""",
    "CREATE INDEX IF NOT EXISTS change_index_streams_kind ON change_index_streams (lower(kind), namespace, name)",
    # Keyed by the event's seq (the rowid), so rows lie in log order: a listing's 100 lookups from
    # the actor, field or path tables, newest first, touch the table in order and cost a third of
    # lookups into a table clustered by stream (1M-event bench log). A history reads the covering
    # change_index_stream instead: a few contiguous pages, not one per change. at: the change's
    # time in microseconds since the epoch. listing: what a listing shows (_LISTING),
    # NUL-separated in one column: SQLite reads one value per row instead of twelve, which
    # halves the cost of reading 100 rows (no field holds a NUL: git paths and identities
    # cannot, JSON escapes it).
    """CREATE TABLE IF NOT EXISTS change_index (
        seq INTEGER PRIMARY KEY,
        rid INTEGER NOT NULL,
        at INTEGER NOT NULL,
        listing TEXT NOT NULL,
        before_key INTEGER,
        after_key INTEGER,
        restores INTEGER,
        rolled_back_by INTEGER
    )""",
    # A stream's changes in time order, with what a listing reads (about the size of the table).
    "CREATE INDEX IF NOT EXISTS change_index_stream ON change_index (rid, at, seq, restores, rolled_back_by, listing)",
    # Rollbacks: earlier versions of a stream by content (the latest before a change: one seek),
    # and the changes that restored one.
    "CREATE INDEX IF NOT EXISTS change_index_after ON change_index (rid, after_key, at) WHERE after_key IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS change_index_rollbacks ON change_index (rid, at) WHERE restores IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS change_index_at ON change_index (at)",  # changes, newest first
    """CREATE TABLE IF NOT EXISTS change_index_actors (
        actor TEXT NOT NULL, at INTEGER NOT NULL, seq INTEGER NOT NULL, rid INTEGER NOT NULL,
        PRIMARY KEY (actor, at, seq)
    ) WITHOUT ROWID""",
    # Each change under its file, and under the file a rename left.
    """CREATE TABLE IF NOT EXISTS change_index_paths (
        path TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (path, seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS change_index_fields (
        field TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (field, seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS change_index_commits (
        "commit" TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY ("commit", seq)
    ) WITHOUT ROWID""",
]
_TABLES = (
    "change_index_actors", "change_index_paths", "change_index_fields", "change_index_commits", "change_index",
    "change_index_streams", "change_index_meta",
)

# Each chunk of events is read once (one JSON parse per event) into a temporary table.
_CHUNK_TABLE = """CREATE TEMP TABLE IF NOT EXISTS change_index_chunk (
    seq INTEGER PRIMARY KEY, rid INTEGER, kind, namespace, name, repo, ref, api_version, at, "commit", path, old_path, op,
    actor, actor_email, author, author_email, committer_time, recorded_at, pushed_at, imported, diff, before_key, after_key)"""
_PATHS = (
    "$.resource.kind", "$.resource.namespace", "$.resource.name", "$.resource.apiVersion", "$.path", "$.old_path",
    "$.op", "$.pusher.name", "$.pusher.email", "$.pusher.source", "$.author.name", "$.author.email",
    "$.committer.time", "$.diff", "$.before", "$.after", "$.pushed_at",
)
_READ_CHUNK = f"""
WITH x AS MATERIALIZED (
    SELECT seq, repo, ref, "commit", recorded_at, json_extract(body, {", ".join(f"'{p}'" for p in _PATHS)}) AS v
    FROM events WHERE seq > ? AND seq <= ? AND type = 'change'
)
INSERT INTO temp.change_index_chunk
SELECT seq, NULL, COALESCE(v ->> 0, ''), COALESCE(v ->> 1, ''), COALESCE(v ->> 2, ''), COALESCE(repo, ''), COALESCE(ref, ''),
       COALESCE(v ->> 3, ''),
       CASE WHEN v ->> 9 = 'import' THEN COALESCE(auditsvc_time(v ->> 12), auditsvc_time(recorded_at))
            ELSE auditsvc_time(COALESCE(v ->> 16, recorded_at)) END,
       COALESCE("commit", ''), COALESCE(v ->> 4, ''), v ->> 5, COALESCE(v ->> 6, ''),
       v ->> 7, v ->> 8, v ->> 10, v ->> 11, v ->> 12, recorded_at,
       CASE WHEN v ->> 9 = 'import' THEN NULL ELSE COALESCE(v ->> 16, recorded_at) END, COALESCE(v ->> 9 = 'import', 0),
       COALESCE(v -> 13, '[]'), auditsvc_digest_key(v ->> 14), auditsvc_digest_key(v ->> 15)
FROM x
"""
_INDEX_STREAMS = """
INSERT OR IGNORE INTO change_index_streams (kind, namespace, name, repo, ref, api_version)
SELECT DISTINCT kind, namespace, name, repo, ref, api_version FROM temp.change_index_chunk
"""
_CHUNK_STREAMS = """
UPDATE temp.change_index_chunk AS c SET rid = s.rid FROM change_index_streams s
WHERE s.kind = c.kind AND s.namespace = c.namespace AND s.name = c.name AND s.repo = c.repo
  AND s.ref = c.ref AND s.api_version = c.api_version
"""
# The fields of change_index.listing, in order; None is stored as "", a diff too long to inline as "".
_LISTING = (
    "recorded_at", '"commit"', "op", "path", "old_path", "actor", "author", "author_email", "committer_time",
    "imported", "pushed_at", f"CASE WHEN length(diff) <= {_DIFF_INLINE} THEN diff END",
)
_INDEX_CHANGES = f"""
INSERT OR IGNORE INTO change_index (seq, rid, at, listing, before_key, after_key)
SELECT seq, rid, at, {" || char(0) || ".join(f"COALESCE({field}, '')" for field in _LISTING)}, before_key, after_key
FROM temp.change_index_chunk
ORDER BY seq
"""
_INDEX_PATHS = """
INSERT OR IGNORE INTO change_index_paths (path, seq)
SELECT path, seq FROM temp.change_index_chunk
UNION ALL SELECT old_path, seq FROM temp.change_index_chunk WHERE old_path IS NOT NULL AND old_path <> path
ORDER BY 1, 2
"""
# A rollback: a change whose contents equal an earlier version of the same resource (same repo,
# ref and apiVersion) records the latest earlier change that produced that version. A rename
# without edits keeps its contents and restores nothing; nor does a change to the version the
# stream already had (a merge whose side branch's commit was recorded on the same ref).
_INDEX_RESTORES = """
UPDATE change_index AS c SET restores = (
    SELECT p.seq FROM change_index p
    WHERE p.rid = c.rid AND p.after_key = c.after_key AND (p.at, p.seq) < (c.at, c.seq)
    ORDER BY p.at DESC, p.seq DESC LIMIT 1)
WHERE c.seq IN (SELECT seq FROM temp.change_index_chunk) AND c.after_key IS NOT NULL AND c.before_key IS NOT c.after_key
  AND (SELECT q.after_key FROM change_index q WHERE q.rid = c.rid AND (q.at, q.seq) < (c.at, c.seq)
       ORDER BY q.at DESC, q.seq DESC LIMIT 1) IS NOT c.after_key
"""
# ... and the changes it rolled back (those between the restored version and it) record the first
# rollback, in the streams where this chunk brought one.
_INDEX_ROLLED_BACK = """
UPDATE change_index AS x SET rolled_back_by = (
    SELECT c.seq FROM change_index c JOIN change_index p ON p.seq = c.restores
    WHERE c.rid = x.rid AND c.restores IS NOT NULL AND (c.at, c.seq) > (x.at, x.seq) AND (p.at, p.seq) < (x.at, x.seq)
    ORDER BY c.at, c.seq LIMIT 1)
WHERE x.rolled_back_by IS NULL AND x.rid IN (
    SELECT c.rid FROM temp.change_index_chunk k JOIN change_index c ON c.seq = k.seq WHERE c.restores IS NOT NULL)
"""
# Identities of a change (pusher name/email, author name/email), lowercased, one row each.
_INDEX_ACTORS = """
INSERT OR IGNORE INTO change_index_actors (actor, at, seq, rid)
SELECT lower(j.value), c.at, c.seq, c.rid
FROM temp.change_index_chunk c, json_each(json_array(c.actor, c.actor_email, c.author, c.author_email)) j
WHERE j.type = 'text' AND j.value <> ''
ORDER BY 1, 2, 3
"""
# Diff paths as written and with list indices generalised to [*] (spec.containers[*].image).
_INDEX_FIELDS = """
INSERT OR IGNORE INTO change_index_fields (field, seq)
SELECT v.value, c.seq
FROM temp.change_index_chunk c, json_each(c.diff) d, json_each(json_array(d.value ->> '$.path', auditsvc_star(d.value ->> '$.path'))) v
WHERE c.diff <> '[]' AND v.type = 'text' AND v.value <> ''
ORDER BY 1, 2
"""
# The commits a push brought besides its tip (the events table indexes each event's own commit).
_INDEX_COMMITS = """
INSERT OR IGNORE INTO change_index_commits ("commit", seq)
SELECT c.value, e.seq FROM events e, json_each(e.body, '$.commits') c
WHERE e.seq > ?1 AND e.seq <= ?2 AND e.type = 'push' AND json_type(e.body, '$.commits') = 'array'
  AND c.value IS NOT e."commit"
"""

# --- times ------------------------------------------------------------------------------------

_SPAN = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_SPAN_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HEX = re.compile(r"^[0-9a-f]{4,64}$")


def parse_time(text: str | datetime.datetime, now: datetime.datetime | None = None) -> datetime.datetime:
    """A UTC datetime from "7d" / "12h" / "30m" / "2w" (that long before now), "now",
    "2026-01-31" (midnight UTC) or ISO-8601 (an offset is converted; none means UTC)."""
    if isinstance(text, datetime.datetime):
        return text.replace(tzinfo=datetime.timezone.utc) if text.tzinfo is None else text.astimezone(datetime.timezone.utc)
    value = str(text).strip()
    now = now or datetime.datetime.now(datetime.timezone.utc)
    span = _SPAN.match(value.lower())
    if span:
        return now - datetime.timedelta(**{_SPAN_UNITS[span.group(2)]: int(span.group(1))})
    if value.lower() == "now":
        return now
    try:
        if _DATE.match(value):
            return datetime.datetime.combine(datetime.date.fromisoformat(value), datetime.time(), datetime.timezone.utc)
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"cannot read the time {value!r}: give an ISO date or time (2026-01-31, 2026-01-31T12:00:00Z) "
            "or a span before now such as 7d, 12h, 30m"
        ) from None
    return moment.replace(tzinfo=datetime.timezone.utc) if moment.tzinfo is None else moment.astimezone(datetime.timezone.utc)


def format_time(moment: datetime.datetime) -> str:
    """UTC ISO-8601 to the second: 2026-11-27T05:10:02Z."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MICRO = datetime.timedelta(microseconds=1)


def _micros(moment: datetime.datetime) -> int:
    """The index's form of a time: microseconds since the epoch (UTC)."""
    return (moment - _EPOCH) // _MICRO


def _at(text: str | None) -> int | None:
    """A stored UTC time (RFC 3339) as microseconds since the epoch; None when unreadable."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = parse_time(text)
        except (ConfigError, OverflowError, ValueError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return _micros(moment)


def _seconds(text: str | None) -> str:
    """A stored time shown to the second."""
    if not text:
        return "-"
    if len(text) >= 20 and text[10] == "T" and text.endswith("Z"):
        return text[:19] + "Z"
    return text


def _star(path: str | None) -> str | None:
    return None if path is None else re.sub(r"\[\d+\]", "[*]", path)


# --- the index --------------------------------------------------------------------------------

def _digest_key(digest: str | None) -> int | None:
    """A content digest as a 60-bit integer: compared only within one resource's stream, where a
    collision is out of reach, and a quarter of the index size of the hex text."""
    if not digest:
        return None
    try:
        return int(digest[:15], 16)
    except ValueError:
        return None


class _Connection(sqlite3.Connection):
    """Our connection to the log's file, with the streams (rid -> resource, repo, ref) it has seen."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streams: dict[int, tuple[str, str, str, str, str, str]] = {}
        self.generation: str | None = None  # of the index the streams come from


_connections: weakref.WeakKeyDictionary[Any, _Connection] = weakref.WeakKeyDictionary()


def _index_file(log: Any) -> str:
    """The SQLite file holding the index: the log's own, or for another backend a local replica of its events."""
    if isinstance(log, SqliteAuditLog):
        return str(log.path)
    digest = hashlib.sha256(log.location.encode("utf-8")).hexdigest()[:20]
    return os.path.join(default_cache_dir(), "replicas", f"{digest}.db")


def _refresh_replica(log: Any) -> None:
    """Copy the events a PostgreSQL log gained since the last query into its local replica."""
    if isinstance(log, SqliteAuditLog):
        return
    if refresh_replica(log, Path(_index_file(log))):  # made afresh: a cached connection points at the old file
        stale = _connections.pop(log, None)
        if stale is not None:
            stale.close()


def events_file(log: Any) -> str:
    """A SQLite file holding the log's events up to now, for read-only SQL: the log's own file, or
    for another backend its local replica, brought up to date."""
    _refresh_replica(log)
    return _index_file(log)


def _connection(log: Any) -> _Connection:
    """Our own connection to the log's file (autocommit; explicit transactions), one per log object."""
    conn = _connections.get(log)
    if conn is None:
        try:
            conn = sqlite3.connect(_index_file(log), isolation_level=None, factory=_Connection)
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
            # Only derived data is written here; NORMAL still syncs the WAL at checkpoints.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA temp_store = MEMORY")
            # Reads map the file instead of copying pages through read(): a listing's 100 random
            # lookups cost a third less at p99 on a 1M-event log (the OS shares and reclaims the map).
            conn.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
        except sqlite3.Error as err:
            raise AuditError(f"cannot open audit log {log.location} for queries: {err}") from None
        conn.create_function("auditsvc_time", 1, _at, deterministic=True)
        conn.create_function("auditsvc_star", 1, _star, deterministic=True)
        conn.create_function("auditsvc_digest_key", 1, _digest_key, deterministic=True)
        _connections[log] = conn
        weakref.finalize(log, conn.close)
    return conn


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    try:
        row = conn.execute("SELECT value FROM change_index_meta WHERE key = ?", [key]).fetchone()
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            return None
        raise
    return None if row is None else row[0]


def _begin(conn: sqlite3.Connection, log: Any) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as err:
        raise AuditError(f"cannot update the query index of {log.location}: {err}") from None


_STATUS = (
    "SELECT (SELECT value FROM change_index_meta WHERE key = 'version'), "
    "(SELECT value FROM change_index_meta WHERE key = 'generation'), "
    "(SELECT value FROM change_index_meta WHERE key = 'last_seq'), "
    "(SELECT COALESCE(MAX(seq), 0) FROM events)"
)


def _status(conn: _Connection) -> tuple[str | None, str | None, int, int]:
    """(index version, generation, last indexed seq, last seq of the log), in one statement."""
    try:
        version, generation, last, top = conn.execute(_STATUS).fetchone()
    except sqlite3.OperationalError as err:
        if "no such table" not in str(err):
            raise
        return None, None, 0, conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    return version, generation, int(last or 0), top


def _create_schema(conn: _Connection, log: Any) -> None:
    _begin(conn, log)
    try:
        if _meta(conn, "version") != INDEX_VERSION:  # new, or written by another version: rebuild
            for table in _TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO change_index_meta (key, value) VALUES ('version', ?), ('last_seq', '0'), ('generation', ?)",
                [INDEX_VERSION, os.urandom(8).hex()],
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def refresh_index(log: Any) -> int:
    """Index the events appended since the last indexed seq; returns how many events were read."""
    _refresh_replica(log)
    conn = _connection(log)
    try:
        version, generation, last, top = _status(conn)
        if version != INDEX_VERSION:
            _create_schema(conn, log)
            version, generation, last, top = _status(conn)
        if generation != conn.generation:  # rebuilt (here or by another process): stream ids changed
            conn.streams.clear()
            conn.generation = generation
        done = 0
        chunk = _CHUNK
        while last < top:
            started = time.monotonic()
            _begin(conn, log)
            try:
                last = int(_meta(conn, "last_seq") or 0)  # another process may have indexed meanwhile
                high = min(last + chunk, top)
                if high > last:
                    conn.execute(_CHUNK_TABLE)
                    conn.execute("DELETE FROM temp.change_index_chunk")
                    conn.execute(_READ_CHUNK, [last, high])
                    for statement in (
                        _INDEX_STREAMS, _CHUNK_STREAMS, _INDEX_CHANGES, _INDEX_PATHS, _INDEX_RESTORES, _INDEX_ROLLED_BACK,
                        _INDEX_ACTORS, _INDEX_FIELDS,
                    ):
                        conn.execute(statement)
                    conn.execute(_INDEX_COMMITS, [last, high])
                    conn.execute("DELETE FROM temp.change_index_chunk")
                    conn.execute("UPDATE change_index_meta SET value = ? WHERE key = 'last_seq'", [str(high)])
                    done += high - last
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            last = high
            # A long backlog (the first query on a big log): grow the chunks while a write
            # transaction stays well inside the time a hook waits for the lock.
            took = time.monotonic() - started
            chunk = max(_CHUNK // 10, min(_MAX_CHUNK, int(chunk * _TARGET_SECONDS / max(took, 1e-3))))
        return done
    except sqlite3.Error as err:
        raise AuditError(f"cannot update the query index of {log.location}: {err}") from None


def rebuild_index(log: Any) -> int:
    """Drop the derived index and build it again from the events; returns how many events were read."""
    _refresh_replica(log)
    conn = _connection(log)
    _begin(conn, log)
    try:
        for table in _TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return refresh_index(log)


def _ready(log: Any) -> _Connection:
    refresh_index(log)
    return _connection(log)


# --- results ----------------------------------------------------------------------------------


def resource_label(resource: Mapping[str, Any]) -> str:
    """Kind/namespace/name, or Kind/name for cluster-scoped resources."""
    parts = [resource.get("kind") or "?"]
    if resource.get("namespace"):
        parts.append(resource["namespace"])
    parts.append(resource.get("name") or "?")
    return "/".join(parts)


def parse_resource(text: str) -> tuple[str, str, str]:
    """KIND/NAMESPACE/NAME or, cluster-scoped, KIND/NAME -> (kind, namespace, name)."""
    parts = text.split("/")
    if len(parts) == 2 and all(parts):
        return parts[0], "", parts[1]
    if len(parts) == 3 and parts[0] and parts[2]:
        return parts[0], parts[1], parts[2]
    raise ConfigError(f"cannot read the resource {text!r}: give KIND/NAMESPACE/NAME, or KIND/NAME for a cluster-scoped one")


class Change:
    """One recorded change of one resource in one commit.

    Read from the index: what a listing shows (times, commit, pusher and author, operation,
    resource, file, field diff). The diff is parsed on first use; the rest of the event body
    (author and committer records, pusher record, subject, content digests, signature) is read
    from the log on first use, so use those while the log is open.
    """

    __slots__ = ("_row", "_fields", "_stream", "_conn", "_body", "_diff", "_links")

    def __init__(
        self, row: Sequence[Any], stream: Sequence[str], conn: _Connection, links: Mapping[int, Change] | None = None
    ) -> None:
        self._row = row  # the columns of _SELECT
        self._fields = row[5].split("\0")  # the listing: the columns of _LISTING, "" for None
        self._stream = stream  # kind, namespace, name, repo, ref, apiVersion
        self._conn = conn
        self._body: dict[str, Any] | None = None
        self._diff: list[dict[str, Any]] | None = None
        self._links = links  # the changes named by restores and rolled_back_by, when read with this one

    seq = property(lambda self: self._row[1], doc="the event's seq in the log")
    recorded_at = property(lambda self: self._fields[0], doc="when the log recorded the change (post-receive, or the import)")
    commit = property(lambda self: self._fields[1] or None)
    op = property(lambda self: self._fields[2], doc="created, modified, renamed or deleted")
    path = property(lambda self: self._fields[3], doc="the file after the change (for deleted: the file it left)")
    old_path = property(lambda self: self._fields[4] or None, doc="the file before a rename")
    pusher_name = property(lambda self: self._fields[5] or None)
    author_name = property(lambda self: self._fields[6] or None)
    author_email = property(lambda self: self._fields[7] or None)
    committed_at = property(lambda self: self._fields[8] or None, doc="the committer time")
    imported = property(lambda self: self._fields[9] == "1", doc="recorded by `auditsvc import`, pusher unknown")
    repo = property(lambda self: self._stream[3] or None)
    ref = property(lambda self: self._stream[4] or None, doc="the ref the change landed on")

    @property
    def restores(self) -> Change | None:
        """A rollback: the earlier change whose version of the resource this change brings back."""
        return self._link(self._row[3])

    @property
    def rolled_back_by(self) -> Change | None:
        """The first later change that brought back a version from before this one (same repo and ref)."""
        return self._link(self._row[4])

    def _link(self, seq: int | None) -> Change | None:
        if seq is None:
            return None
        if self._links is not None and seq in self._links:
            return self._links[seq]
        found = _changes_from(self._conn, f"{_SELECT} FROM change_index c WHERE c.seq = ?", [seq])
        return found[0] if found else None

    def summary(self) -> dict[str, Any]:
        """Enough to name a change from another one: seq, commit, time, operation, who."""
        return {"seq": self.seq, "commit": self.commit, "time": self.time, "op": self.op, "actor": self.actor}

    @property
    def resource(self) -> dict[str, str]:
        kind, namespace, name, _, _, api_version = self._stream
        return {"apiVersion": api_version, "kind": kind, "namespace": namespace, "name": name}

    @property
    def diff(self) -> list[dict[str, Any]]:
        """[{path, op, old, new}]; a long diff is not in the index: it is read from the event."""
        if self._diff is None:
            text = self._fields[11]
            self._diff = json.loads(text) if text else self.body.get("diff") or []
        return self._diff

    @property
    def time(self) -> str:
        """When it landed: the push time, or the commit time for imported history."""
        fields = self._fields
        return (fields[8] or fields[0]) if fields[9] == "1" else fields[10]

    @property
    def pushed_at(self) -> str | None:
        """When the push landed (post-receive); None for imported history (its push time is unknown)."""
        return None if self.imported else self._fields[10]

    @property
    def body(self) -> dict[str, Any]:
        """The change event's body, read from the log on first use (while the log is open)."""
        if self._body is None:
            row = self._conn.execute("SELECT body FROM events WHERE seq = ?", [self.seq]).fetchone()
            self._body = json.loads(row[0]) if row else {}
        return self._body

    @property
    def author(self) -> dict[str, Any]:
        return self.body.get("author") or {}

    @property
    def committer(self) -> dict[str, Any]:
        return self.body.get("committer") or {}

    @property
    def pusher(self) -> dict[str, Any]:
        return self.body.get("pusher") or {}

    @property
    def subject(self) -> str:
        return self.body.get("subject", "")

    @property
    def before(self) -> str | None:
        """Digest of the contents before the change (None when created)."""
        return self.body.get("before")

    @property
    def after(self) -> str | None:
        """Digest of the contents after the change (None when deleted): log.get_content(after)."""
        return self.body.get("after")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Change) and self._row[1:3] == other._row[1:3]

    def __hash__(self) -> int:
        return hash(self.seq)

    def __repr__(self) -> str:
        return f"Change(seq={self.seq}, {self.op} {self.label} in {self.commit}, {self.time})"

    @property
    def label(self) -> str:
        return resource_label(self.resource)

    @property
    def actor(self) -> str:
        """Who, for people: the author (email, else name) and who pushed it."""
        author = self.author_email or self.author_name or "?"
        if self.imported:
            return f"{author} (imported)"
        return f"{author} (pushed by {self.pusher_name or '?'})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "pushed_at": self.pushed_at,
            "committed_at": self.committed_at,
            "recorded_at": self.recorded_at,
            "repo": self.repo,
            "ref": self.ref,
            "commit": self.commit,
            "op": self.op,
            "resource": self.resource,
            "path": self.path,
            "old_path": self.old_path,
            "diff": self.diff,
            "author": self.author,
            "committer": self.committer,
            "pusher": self.pusher,
            "subject": self.subject,
            "before": self.before,
            "after": self.after,
            "imported": self.imported,
            "restores": restored.summary() if (restored := self.restores) else None,
            "rolled_back_by": undone.summary() if (undone := self.rolled_back_by) else None,
        }

    def line(self, max_diffs: int = 3) -> str:
        """2026-11-27T05:10:02Z  3f2a1c9e  ada@example.com (pushed by alice)  modified  Deployment/shop/web  apps/web.yaml  spec...: a -> b"""
        where = f"{self.old_path} -> {self.path}" if self.old_path and self.old_path != self.path else self.path
        parts = [_seconds(self.time), (self.commit or "-")[:8], self.actor, self.op, self.label, where]
        diff = self.diff
        if diff:
            shown = [describe_field(d) for d in diff[:max_diffs]]
            more = len(diff) - max_diffs
            parts.append("; ".join(shown) + (f" (+{more} more)" if more > 0 else ""))
        restored = self.restores
        if restored is not None:
            parts.append(f"[rollback to {(restored.commit or '-')[:8]} of {_seconds(restored.time)}]")
        undone = self.rolled_back_by
        if undone is not None:
            parts.append(f"[rolled back by {(undone.commit or '-')[:8]} at {_seconds(undone.time)}, {undone.actor}]")
        return "  ".join(parts)


_BARE = re.compile(r"^[^\s\"'{}\[\],#&*!|>%@`]+$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(inf|infinity|nan)$", re.IGNORECASE)
_WORDS = frozenset(("true", "false", "null", "~", "yes", "no", "on", "off"))


def _value(value: Any, width: int = 60) -> str:
    """A value for people: strings bare unless they would read as something else, others as JSON."""
    if isinstance(value, str):
        bare = _BARE.match(value) and value.lower() not in _WORDS and not _NUMBER.match(value)
        text = value if bare else json.dumps(value, ensure_ascii=False)
    elif value is None or isinstance(value, (bool, int)):
        text = "null" if value is None else "true" if value is True else "false" if value is False else str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def describe_field(change: Mapping[str, Any]) -> str:
    """spec.replicas: 2 -> 3, metadata.labels.tier: added web, spec.paused: removed true."""
    path = change.get("path") or "(document)"
    op = change.get("op")
    if op == "add":
        return f"{path}: added {_value(change.get('new'))}"
    if op == "remove":
        return f"{path}: removed {_value(change.get('old'))}"
    return f"{path}: {_value(change.get('old'))} -> {_value(change.get('new'))}"


_SELECT = "SELECT c.rid, c.seq, c.at, c.restores, c.rolled_back_by, c.listing"


def _stream_map(conn: _Connection, rids: Iterable[int]) -> dict[int, tuple[str, str, str, str, str, str]]:
    known = conn.streams
    missing = {r for r in rids if r not in known}
    if missing:
        for rid, *stream in conn.execute(
            f"SELECT rid, kind, namespace, name, repo, ref, api_version FROM change_index_streams WHERE rid IN ({_in(missing)})"
        ):
            known[rid] = tuple(stream)
    return known


def _changes(conn: _Connection, rows: list[Sequence[Any]]) -> list[Change]:
    """Change objects for rows of _SELECT, with the changes their rollback links name (one more query)."""
    linked = {seq for row in rows for seq in (row[3], row[4]) if seq is not None}
    links: dict[int, Change] = {}
    if linked:
        link_rows = conn.execute(f"{_SELECT} FROM change_index c WHERE c.seq IN ({_in(sorted(linked))})").fetchall()
        link_streams = _stream_map(conn, {row[0] for row in link_rows})
        links = {row[1]: Change(row, link_streams[row[0]], conn) for row in link_rows}
    streams = _stream_map(conn, {row[0] for row in rows})
    return [Change(row, streams[row[0]], conn, links) for row in rows]


def _changes_from(conn: _Connection, sql: str, params: Sequence[Any]) -> list[Change]:
    return _changes(conn, conn.execute(sql, list(params)).fetchall())


def _ref_values(ref: str) -> list[str]:
    return [ref] if ref.startswith("refs/") else [ref, f"refs/heads/{ref}", f"refs/tags/{ref}"]


def _streams(
    conn: sqlite3.Connection,
    kind: str | None = None,
    namespace: str | None = None,
    name: str | None = None,
    api_version: str | None = None,
    repo: str | None = None,
    ref: str | None = None,
) -> list[int] | None:
    """Stream ids matching the filters given (kind case-insensitively); None when no filter is given."""
    where: list[str] = []
    params: list[Any] = []
    if kind is not None:
        where.append("lower(kind) = lower(?)")
        params.append(kind)
    for column, value in (("namespace", namespace), ("name", name), ("api_version", api_version), ("repo", repo)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if ref is not None:
        values = _ref_values(ref)
        where.append(f"ref IN ({','.join('?' * len(values))})")
        params.extend(values)
    if not where:
        return None
    return [row[0] for row in conn.execute(f"SELECT rid FROM change_index_streams WHERE {' AND '.join(where)}", params)]


def _in(ids: Sequence[int]) -> str:
    return ",".join(str(int(i)) for i in ids)


# --- history ----------------------------------------------------------------------------------


def history(
    log: Any, kind: str, namespace: str, name: str, api_version: str | None = None, repo: str | None = None
) -> list[Change]:
    """Every change of one resource (namespace "" for cluster-scoped ones), oldest first.

    kind matches case-insensitively; without api_version every apiVersion of the kind counts,
    and changes on every ref.
    """
    conn = _ready(log)
    rids = _streams(conn, kind=kind, namespace=namespace or "", name=name, api_version=api_version or None, repo=repo or None)
    if not rids:
        return []
    if len(rids) == 1:  # the order of change_index_stream: no sort
        return _changes_from(conn, f"{_SELECT} FROM change_index c WHERE c.rid = ? ORDER BY c.at, c.seq", rids)
    return _ordered(conn, f"{_SELECT} FROM change_index c WHERE c.rid IN ({_in(rids)})")


def _ordered(conn: _Connection, sql: str, params: Sequence[Any] = ()) -> list[Change]:
    """Changes of a query selecting _SELECT, oldest first (sorted here: cheaper than in SQL)."""
    rows = conn.execute(sql, list(params)).fetchall()
    rows.sort(key=lambda row: (row[2], row[1]))
    return _changes(conn, rows)


def history_by_path(log: Any, path: str, repo: str | None = None) -> list[Change]:
    """Every change of the resources in one file (including renames from or to it), oldest first."""
    conn = _ready(log)
    path = path.removeprefix("./")
    sql = f"{_SELECT} FROM change_index c WHERE c.seq IN (SELECT seq FROM change_index_paths WHERE path = ?)"
    if repo:
        rids = _streams(conn, repo=repo)
        if not rids:
            return []
        sql += f" AND c.rid IN ({_in(rids)})"
    return _ordered(conn, sql, [path])


# --- changes ----------------------------------------------------------------------------------


def _field_pattern(field: str) -> re.Pattern[str]:
    """A diff path matches the field when it is the field or lies under it; [*] matches any index."""
    body = re.escape(field).replace(re.escape("[*]"), r"\[\d+\]")
    return re.compile(rf"^{body}(?:$|[.\[])")


def changes(
    log: Any,
    actor: str | None = None,
    kind: str | None = None,
    namespace: str | None = None,
    repo: str | None = None,
    ref: str | None = None,
    field: str | None = None,
    since: str | datetime.datetime | None = None,
    until: str | datetime.datetime | None = None,
    rollbacks: bool = False,
    limit: int | None = DEFAULT_LIMIT,
    path: str | None = None,
) -> list[Change]:
    """Changes matching every filter given, newest first, at most `limit` (None: all).

    actor: pusher name or email, or author name or email (case-insensitive, whole value).
    kind (case-insensitive), namespace ("" for cluster-scoped resources), repo.
    ref: refs/heads/main, or main (a branch or tag name).
    path: a manifest file (changes of the resources in it, renames from or to it included).
    field: a diff path or a prefix of one at a field boundary (spec.replicas,
    spec.template.spec.containers[*].image; [*] matches any list index).
    since/until: inclusive bounds on the change's time (parse_time forms: 7d, 2026-01-31, ISO;
    an --until date includes that whole day, a time to the second that whole second).
    rollbacks: only changes that brought back an earlier version of their resource.
    """
    conn = _ready(log)
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, not {limit}")
    where: list[str] = []
    params: list[Any] = []
    order_by = "c.at DESC, c.seq DESC"
    source = "change_index c"
    if actor is not None:
        source = "change_index_actors a CROSS JOIN change_index c ON c.seq = a.seq"
        where.append("a.actor = ?")
        params.append(actor.strip().lower())
        order_by = "a.at DESC, a.seq DESC"
    time_column = "a.at" if actor is not None else "c.at"
    if since is not None:
        where.append(f"{time_column} >= ?")
        params.append(_micros(parse_time(since)))
    if until is not None:
        where.append(f"{time_column} <= ?")
        params.append(_until_bound(until))
    if rollbacks:
        where.append("c.restores IS NOT NULL")
    rids = _streams(conn, kind=kind, namespace=namespace, repo=repo, ref=ref)
    if rids is not None:
        if not rids:
            return []
        where.append(f"{'a' if actor is not None else 'c'}.rid IN ({_in(rids)})")
    if path is not None:
        where.append("c.seq IN (SELECT seq FROM change_index_paths WHERE path = ?)")
        params.append(path.removeprefix("./"))
    exact = True
    pattern = None
    if field is not None:
        field = field.strip()
        if not field:
            raise ConfigError("--field needs a field path such as spec.replicas")
        pattern = _field_pattern(field)
        starred = "[*]" in field
        key = _star(field) if starred else field
        exact = not (starred and re.search(r"\[\d+\]", field))  # a mix of [*] and [N]: refine below
        where.append(
            "c.seq IN (SELECT seq FROM change_index_fields WHERE field = ? "
            "OR (field >= ? AND field < ?) OR (field >= ? AND field < ?))"
        )
        params.extend([key, key + ".", key + "/", key + "[", key + "\\"])
    sql = f"{_SELECT} FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order_by}"
    if limit is not None and exact:
        sql += " LIMIT ?"
        params.append(limit)
    found = _changes_from(conn, sql, params)
    if pattern is not None and not exact:
        found = [c for c in found if any(pattern.match(d.get("path") or "") for d in c.diff)]
        found = found if limit is None else found[:limit]
    return found


def _until_bound(until: str | datetime.datetime) -> int:
    """The last instant --until includes: a date includes that whole day, a time to the second that second."""
    moment = parse_time(until)
    if isinstance(until, str):
        text = until.strip()
        if _DATE.match(text):
            return _micros(moment + datetime.timedelta(days=1)) - 1
        if not _SPAN.match(text.lower()) and text.lower() != "now" and "." not in text:
            return _micros(moment + datetime.timedelta(seconds=1)) - 1
    return _micros(moment)


# --- show -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CommitRecord:
    """Everything recorded for one commit."""

    commit: str
    pushes: list[Event]  # push decisions whose ref update ends at the commit or that brought it
    changes: list[Change]
    overrides: list[Event]  # break-glass overrides of those pushes
    imports: list[Event]
    other: list[Event]  # deploy, drift, violation... naming the commit

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "pushes": [e.to_dict() for e in self.pushes],
            "changes": [c.to_dict() for c in self.changes],
            "overrides": [e.to_dict() for e in self.overrides],
            "imports": [e.to_dict() for e in self.imports],
            "other": [e.to_dict() for e in self.other],
        }


_SEQS_OF_COMMIT = 'SELECT seq FROM events WHERE "commit" = ?1 UNION SELECT seq FROM change_index_commits WHERE "commit" = ?1'
_CHANGES_OF_COMMIT = 'SELECT seq FROM events WHERE "commit" = ?1 AND type = \'change\''


def _resolve_commit(conn: sqlite3.Connection, commit: str) -> str | None:
    """The recorded commit id starting with `commit` (4+ hex digits); None if none; error if ambiguous."""
    prefix = commit.strip().lower()
    if not _HEX.match(prefix):
        raise ConfigError(f"{commit!r} is not a commit id (4 to 64 hex digits)")
    rows = conn.execute(
        'SELECT DISTINCT "commit" FROM events WHERE "commit" >= ?1 AND "commit" < ?2 '
        'UNION SELECT "commit" FROM change_index_commits WHERE "commit" >= ?1 AND "commit" < ?2 LIMIT 2',
        [prefix, prefix + "g"],
    ).fetchall()
    if len(rows) > 1:
        raise ConfigError(f"commit {commit} is ambiguous: give more digits")
    return rows[0][0] if rows else None


def _event(row: Sequence[Any]) -> Event:
    seq, type_, natural_key, repo, ref, commit, recorded_at, body, leaf_hash = row
    return Event(seq, type_, natural_key, repo, ref, commit, recorded_at, json.loads(body), leaf_hash)


def show(log: Any, commit: str) -> CommitRecord:
    """Push decisions naming the commit (as the new tip or among the commits they brought),
    its change events, the overrides of those pushes, and any other event naming it."""
    conn = _ready(log)
    full = _resolve_commit(conn, commit)
    if full is None:
        raise AuditError(f"nothing is recorded for commit {commit}")
    rows = conn.execute(
        'SELECT e.seq, e.type, e.natural_key, e.repo, e.ref, e."commit", e.recorded_at, e.body, e.leaf_hash '
        f"FROM events e WHERE e.seq IN ({_SEQS_OF_COMMIT}) ORDER BY e.seq",
        [full],
    ).fetchall()
    pushes, imports, other = [], [], []
    for row in rows:
        if row[1] == "change":
            continue
        event = _event(row)
        (pushes if event.type == "push" else imports if event.type == "import" else other).append(event)
    overrides = []
    seen: set[int] = set()
    for push in pushes:
        push_id = _push_id(push)
        if push_id is None:
            continue
        seq = conn.execute("SELECT seq FROM events WHERE natural_key = ?", [f"override:{push.repo}:{push_id}"]).fetchone()
        if seq is not None and seq[0] not in seen:
            seen.add(seq[0])
            found = conn.execute(
                'SELECT seq, type, natural_key, repo, ref, "commit", recorded_at, body, leaf_hash FROM events WHERE seq = ?',
                [seq[0]],
            ).fetchone()
            overrides.append(_event(found))
    recorded = _changes_from(
        conn,
        f"{_SELECT} FROM change_index c WHERE c.seq IN ({_CHANGES_OF_COMMIT}) ORDER BY c.seq",
        [full],
    )
    return CommitRecord(full, pushes, recorded, overrides, imports, other)


# --- state ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Resource:
    """One resource as it was: its last change at or before the state's time."""

    repo: str
    ref: str
    resource: dict[str, str]
    path: str
    commit: str
    time: str
    seq: int
    digest: str | None
    content: Any

    @property
    def label(self) -> str:
        return resource_label(self.resource)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class State:
    at: str  # the time asked for (UTC ISO-8601)
    commit: str | None  # the commit asked for, if any
    repo: str | None
    ref: str | None
    resources: list[Resource]

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "commit": self.commit,
            "repo": self.repo,
            "ref": self.ref,
            "resources": [r.to_dict() for r in self.resources],
        }


def _latest_change_of(conn: sqlite3.Connection, commit: str, rids: list[int] | None) -> tuple[int, int] | None:
    streams = "" if rids is None else f" AND c.rid IN ({_in(rids)})"
    row = conn.execute(
        f"SELECT c.at, c.seq FROM change_index c WHERE c.seq IN ({_CHANGES_OF_COMMIT}){streams} "
        "ORDER BY c.at DESC, c.seq DESC LIMIT 1",
        [commit],
    ).fetchone()
    return None if row is None else (row[0], row[1])


def _cutoff_of_commit(conn: sqlite3.Connection, commit: str, rids: list[int] | None) -> tuple[int, int]:
    """(time, seq) such that the changes up to and including this commit's are at or before it.

    rids: the streams asked about (None: all). A commit brought to several refs has changes on
    each of them, at different times: the cutoff is where it landed on the streams asked about.
    """
    row = _latest_change_of(conn, commit, rids)
    if row is not None:
        return row
    # No change of its own: the commit before it in the push that brought it, or that push's time.
    pushes = conn.execute(
        f"SELECT e.recorded_at, e.body FROM events e WHERE e.seq IN ({_SEQS_OF_COMMIT}) AND e.type = 'push' ORDER BY e.seq",
        [commit],
    ).fetchall()
    for recorded_at, body_text in pushes:
        body = json.loads(body_text)
        if body.get("accepted") is False:
            continue
        brought = body.get("commits") or []
        earlier = brought[: brought.index(commit)] if commit in brought else []
        for previous in reversed(earlier):
            found = _latest_change_of(conn, previous, rids)
            if found is not None:
                return found
        pushed = _at(recorded_at)
        if pushed is not None:
            return pushed, _INFINITE_SEQ
    raise AuditError(
        f"commit {commit[:12]} changed no manifest and no accepted push names it: give a time with --at instead"
    )


def state(log: Any, at: str | datetime.datetime, repo: str | None = None, ref: str | None = None) -> State:
    """The desired state as of a time or a commit: per repo and ref, every resource's last change
    at or before then, with its contents; resources whose last change deleted them are left out.

    `at` is a parse_time form or a commit id (prefix of 4+ hex digits): the state right after
    that commit's changes were recorded.
    """
    conn = _ready(log)
    commit = None
    if isinstance(at, str) and _HEX.match(at.strip().lower()):
        commit = _resolve_commit(conn, at)
        if commit is None:
            try:
                parse_time(at)  # digits only, such as 20260131: a time after all
            except ConfigError:
                raise AuditError(f"nothing is recorded for commit {at.strip()}") from None
    rids = _streams(conn, repo=repo, ref=ref)
    if commit is not None:
        cut_time, cut_seq = _cutoff_of_commit(conn, commit, rids)
    else:
        cut_time, cut_seq = _micros(parse_time(at)), _INFINITE_SEQ
    shown = format_time(_EPOCH + datetime.timedelta(microseconds=cut_time))
    streams = "change_index_streams s" + ("" if rids is None else f" WHERE s.rid IN ({_in(rids)})")
    latest = [
        row[0]
        for row in conn.execute(
            "SELECT (SELECT c.seq FROM change_index c WHERE c.rid = s.rid AND (c.at < ?1 OR (c.at = ?1 AND c.seq <= ?2)) "
            f"ORDER BY c.at DESC, c.seq DESC LIMIT 1) FROM {streams}",
            [cut_time, cut_seq],
        )
        if row[0] is not None
    ]
    resources = []
    for change in _changes_from(conn, f"{_SELECT} FROM change_index c WHERE c.seq IN ({_in(latest)})", []):
        if change.op == "deleted":
            # Moved between files in one commit (not seen as a rename): the copy in the other file
            # stays. (A force push's rewind of the same file, labelled with the same commit, does not.)
            same_time = _changes_from(
                conn,
                f"{_SELECT} FROM change_index c JOIN change_index d ON d.seq = ? "
                "WHERE c.rid = d.rid AND c.at = d.at AND c.seq < d.seq ORDER BY c.seq DESC",
                [change.seq],
            )
            kept = next(
                (c for c in same_time if c.commit == change.commit and c.op != "deleted" and c.path != change.path), None
            )
            if kept is None:
                continue
            change = kept
        resources.append(
            Resource(
                repo=change.repo or "",
                ref=change.ref or "",
                resource=change.resource,
                path=change.path,
                commit=change.commit or "",
                time=change.time,
                seq=change.seq,
                digest=change.after,
                content=log.get_content(change.after) if change.after else None,
            )
        )
    resources.sort(key=lambda r: (r.repo, r.ref, r.resource["kind"], r.resource["namespace"], r.resource["name"], r.resource["apiVersion"]))
    return State(shown, commit, repo, ref, resources)


# --- text -------------------------------------------------------------------------------------


def render_changes(found: Iterable[Change], empty: str = "no changes recorded") -> str:
    lines = [c.line() for c in found]
    return "\n".join(lines) + "\n" if lines else f"{empty}\n"


def _push_id(event: Event) -> str | None:
    """The push id in push:<repo>:<id>:<ref> and override:<repo>:<id>."""
    for kind in ("push", "override"):
        prefix = f"{kind}:{event.repo}:"
        if event.natural_key.startswith(prefix):
            return event.natural_key[len(prefix) :].split(":", 1)[0]
    return None


def _push_line(event: Event, overridden: bool = False) -> list[str]:
    body = event.body
    pusher = body.get("pusher") or {}
    who = pusher.get("name") or "?"
    if pusher.get("source"):
        who += f" ({pusher['source']}{'' if pusher.get('authenticated') else ', unauthenticated'})"
    if "failure" in body:
        verdict = f"{'accepted' if body.get('accepted') else 'refused'} unchecked ({body.get('failure')})"
    else:
        verdict = ("accepted by override" if overridden else "accepted") if body.get("accepted") else "REFUSED"
    old, new = str(body.get("old") or "")[:8], str(body.get("new") or "")[:8]
    flags = [f for f, on in (("forced", body.get("forced")), ("protected", body.get("protected"))) if on]
    brought = body.get("commits") or []
    line = f"push      {_seconds(event.recorded_at)}  {event.ref}  {verdict}  by {who}  {old}..{new}"
    if brought:
        line += f"  brings {len(brought)} commit{'' if len(brought) == 1 else 's'}"
    if flags:
        line += f"  [{', '.join(flags)}]"
    lines = [line]
    if body.get("refusal"):
        lines.append(f"          {body['refusal']}")
    for finding in body.get("findings") or []:
        label = {"failure": "FAIL", "warning": "WARN", "waived": "WAIVED"}.get(finding.get("outcome"), finding.get("outcome", ""))
        subject = f"{finding['resource']}: " if finding.get("resource") else ""
        lines.append(f"          {label} {finding.get('path')}:{finding.get('line')} {finding.get('rule')}: {subject}{finding.get('message')}")
    return lines


def render_show(record: CommitRecord) -> str:
    lines = [f"commit {record.commit}"]
    overridden = {_push_id(o) for o in record.overrides}
    for push in record.pushes:
        lines.extend(_push_line(push, _push_id(push) in overridden))
    for override in record.overrides:
        body = override.body
        who = (body.get("pusher") or {}).get("name") or "?"
        rules = ", ".join(sorted({f.get("rule", "") for f in body.get("overridden") or []})) or "-"
        lines.append(f"override  {_seconds(override.recorded_at)}  by {who}: {body.get('reason')}  (overrode {rules})")
    for event in record.imports:
        lines.append(f"import    {_seconds(event.recorded_at)}  {event.ref}  {event.body.get('commits', '?')} commits")
    for event in record.other:
        lines.append(f"{event.type:<9} {_seconds(event.recorded_at)}  seq {event.seq}")
    if record.changes:
        lines.append(f"changes ({len(record.changes)}):")
        lines.extend(f"  {c.line()}" for c in record.changes)
    else:
        lines.append("changes: none recorded")
    return "\n".join(lines) + "\n"


def render_state(found: State) -> str:
    what = f"commit {found.commit[:12]} ({found.at})" if found.commit else found.at
    lines = [f"state at {what}: {len(found.resources)} resource{'' if len(found.resources) == 1 else 's'}"]
    for r in found.resources:
        lines.append(f"{r.repo}  {r.ref}  {r.label}  {r.path}  {r.commit[:8]}  {_seconds(r.time)}")
    return "\n".join(lines) + "\n"
