"""Audit-log fixtures: each log test runs on a real SQLite file and on a real PostgreSQL schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditsvc.audit import EventDraft, open_log

from conftest import LogStore


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
def log(log_store: LogStore):
    with open_log(log_store.url) as opened:
        yield opened
