"""Audit-log fixtures: real SQLite files under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditsvc.audit import EventDraft, SqliteAuditLog


def draft(i: int, type: str = "change", **body: object) -> EventDraft:
    return EventDraft(
        type=type,
        natural_key=f"{type}:{i}",
        repo="infra",
        ref="refs/heads/main",
        commit=f"{i:040x}",
        body={"i": i, "path": f"clusters/prod/app-{i}.yaml", **body},
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "log.db"


@pytest.fixture
def log(db_path: Path):
    with SqliteAuditLog.open(f"sqlite:///{db_path}") as opened:
        yield opened
