"""The scale-out audit log backend: PostgreSQL through psycopg 3, for several writers on several hosts.

    log = PostgresAuditLog.open("postgresql://auditsvc@db.internal/audit?signing_key=/etc/auditsvc/audit.key")

The same tables, leaves, tree and checkpoints as the SQLite backend (store.py holds the shared
logic), in the first schema of the connection's search_path. Differences:

- Appenders serialise on a transaction-level advisory lock (`pg_advisory_xact_lock`) keyed
  by the schema, taken before MAX(seq) is read and released at commit: seqs stay gapless and
  every snapshot holds a prefix of the log, on any number of hosts. Readers never wait.
- Append-only: statement-level triggers refuse UPDATE, DELETE and TRUNCATE on events,
  contents and checkpoints; and writers connect as a role granted only SELECT and INSERT
  (`grant_writer`), which can neither change rows nor drop or disable triggers it does not own.
- The signing key is a file named by the `signing_key` URL parameter (or key_path): never
  stored in the database, whose readers must not be able to re-sign a rewritten log. Every
  writer host needs the same key file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from auditsvc.audit.canonical import utc_now
from auditsvc.audit.store import APPEND_ONLY, AuditLog, table_statements
from auditsvc.errors import AuditError

SCHEMES = ("postgresql", "postgres")
KEY_PARAMETER = "signing_key"
CONNECT_TIMEOUT_SECONDS = 10
LOCK_TIMEOUT_MS = 10_000  # as SQLite's busy timeout: a writer waits this long for the append lock
IDLE_IN_TRANSACTION_MS = 60_000  # a writer stuck inside its transaction (host frozen) loses the lock
GUARDED_TABLES = ("events", "contents", "checkpoints")
GUARD_FUNCTION = "auditsvc_append_only"
_GUARD_BODY = f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END"
_GUARDS = {f"{table}_no_{op.lower()}": (table, op) for table in GUARDED_TABLES for op in ("UPDATE", "DELETE", "TRUNCATE")}

_SCHEMA_V1 = (
    *table_statements("BIGINT"),
    f"CREATE FUNCTION {GUARD_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ {_GUARD_BODY} $$",
    *(
        f"CREATE TRIGGER {name} BEFORE {op} ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {GUARD_FUNCTION}()"
        for name, (table, op) in _GUARDS.items()
    ),
)


def parse_url(url: str) -> tuple[str, str | None, str]:
    """(libpq connection URL, signing key path or None, how messages name the log) of a postgresql:// URL.

    The signing_key parameter is auditsvc's, so it is taken out before libpq sees the URL;
    the name shown in messages has no password.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.netloc and not parts.path.strip("/"):
        raise AuditError(f"audit log URL {url!r} is not a PostgreSQL URL: use postgresql://USER@HOST:PORT/DATABASE")
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    keys = [value for name, value in query if name == KEY_PARAMETER]
    if len(keys) > 1 or keys == [""]:
        raise AuditError(f"audit log URL {_shown(parts, query)}: give {KEY_PARAMETER} once, as a file path")
    rest = [(name, value) for name, value in query if name != KEY_PARAMETER]
    conninfo = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(rest)))
    return conninfo, keys[0] if keys else None, _shown(parts, rest)


def _shown(parts: urllib.parse.SplitResult, query: Sequence[tuple[str, str]]) -> str:
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=urllib.parse.urlencode(query)))


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


class PostgresAuditLog(AuditLog):
    """An append-only, tamper-evident event log in a PostgreSQL schema. Use `PostgresAuditLog.open`."""

    MIGRATIONS = (_SCHEMA_V1,)
    _errors = psycopg.Error

    def __init__(self, db: psycopg.Connection[Any], location: str, key_path: Path | None, clock: Callable[[], str]) -> None:
        super().__init__(db, location, key_path, clock)
        self.schema = ""
        self._lock_key = 0

    @classmethod
    def open(
        cls,
        url: str,
        key_path: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        clock: Callable[[], str] | None = None,
    ) -> PostgresAuditLog:
        """Connect and create (or upgrade) the schema if needed; the tables live in current_schema().

        key_path (default: the URL's signing_key parameter) is the Ed25519 key file used to sign
        checkpoints and check them in verify(); without one, checkpoint() is an error and
        verify() reports the signatures unchecked. With create=False a missing log is an error.
        """
        conninfo, url_key, location = parse_url(url)
        try:
            db = psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg.Error as err:
            raise AuditError(f"cannot connect to audit log {location}: {_first_line(err)}") from None
        chosen = key_path if key_path is not None else url_key
        log = cls(db, location, Path(chosen) if chosen is not None else None, clock or utc_now)
        try:
            db.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
            db.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}")
            schema = db.execute("SELECT current_schema()").fetchone()
            if schema is None or schema[0] is None:
                raise AuditError(f"audit log {location}: no schema of the search_path exists to hold the log")
            log.schema = schema[0]
            # One lock per log (per schema), the same on every host; a bigint for pg_advisory_xact_lock.
            log._lock_key = int.from_bytes(hashlib.sha256(f"auditsvc:{log.schema}".encode()).digest()[:8], "big", signed=True)
            log._migrate(create)
        except psycopg.errors.InsufficientPrivilege as err:
            db.close()
            raise AuditError(
                f"cannot create or upgrade the audit log in {location}: {_first_line(err)}; "
                "run `auditsvc init --db URL` once as the schema's owner"
            ) from None
        except psycopg.Error as err:
            db.close()
            raise AuditError(f"cannot open audit log {location}: {_first_line(err)}") from None
        except BaseException:
            db.close()
            raise
        return log

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def _execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        # Without parameters psycopg sends the text as is (so '%' in DDL needs no escaping).
        return self._db.execute(self._sql(statement), params or None)

    def _executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._db.cursor() as cursor:
            cursor.executemany(self._sql(statement), rows)

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        with self._db.transaction():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", [self._lock_key])
            yield

    def _schema_version_stored(self) -> int | None:
        # A scan of pg_tables, not to_regclass(): under the lock, a plain query sees the schema another
        # writer has just committed, where the backend's catalog cache may not yet.
        if not self._one("SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'meta')")[0]:
            return None
        row = self._one("SELECT value FROM meta WHERE key = 'schema_version'")
        return None if row is None else int(row[0])

    def _table_names(self) -> set[str]:
        return {row[0] for row in self._all("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}

    def _broken_guards(self) -> list[str]:
        """Guards missing, disabled (ALTER TABLE ... DISABLE TRIGGER), moved, or calling an altered function."""
        rows = self._all(
            "SELECT t.tgname, c.relname, t.tgenabled, p.proname, p.prosrc FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal"
        )
        present = {name: (table, enabled, function, source.strip()) for name, table, enabled, function, source in rows}
        good = {name: (table, "O", GUARD_FUNCTION, _GUARD_BODY) for name, (table, _) in _GUARDS.items()}
        return sorted(name for name in _GUARDS if present.get(name) != good[name])

    def _missing_key_message(self) -> str:
        return (
            f"the PostgreSQL audit log {self.location} has no signing key: add "
            f"?{KEY_PARAMETER}=/etc/auditsvc/audit.key to its URL (a file outside the database, mode 0600, "
            "the same on every writer host)"
        )

    def grant_writer(self, role: str) -> None:
        """Let an existing role append and read, and nothing else (no UPDATE, DELETE, TRUNCATE, DDL)."""
        tables = sql.SQL(", ").join(sql.Identifier(t) for t in ("meta", *GUARDED_TABLES))
        try:
            with self._db.transaction():
                self._db.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(self.schema), sql.Identifier(role)))
                self._db.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(tables, sql.Identifier(role)))
        except psycopg.Error as err:
            raise AuditError(f"cannot grant {role} write access to audit log {self.location}: {_first_line(err)}") from None

