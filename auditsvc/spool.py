"""post-receive's durable queue: what landed is noted in milliseconds and recorded in the background.

post-receive cannot refuse anything (the refs have moved) and the pusher waits for it, so it only
notes what landed -- per updated ref, the commits the update brought to it and any rewind
(changes.landings), computed at once, before another push moves other refs -- in one fsynced file under GIT_DIR/auditsvc-spool/, and starts
`auditsvc hook record` detached. The recorder holds the spool lock, records the entries oldest
first (change events, then a signed checkpoint) and deletes each entry once its events are
committed. An entry whose recording fails stays where it is: the next recorder (every push starts
one, and `auditsvc hook record GIT_DIR` can be run by hand) tries again, and replays add nothing
(events have natural keys). The reason of the last failure is kept in recorder.log beside it.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

SPOOL_DIR = "auditsvc-spool"
LOG_NAME = "recorder.log"
_LOCK_NAME = ".lock"
# The recorder must not inherit a quarantine that git removes once the push is over.
_QUARANTINE_VARIABLES = ("GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES")


def spool_dir(git_dir: str) -> Path:
    return Path(git_dir) / SPOOL_DIR


def write_entry(git_dir: str, entry: Mapping[str, Any]) -> Path:
    """Write one entry durably (fsync of the file and of the directory) and return its path."""
    directory = spool_dir(git_dir)
    directory.mkdir(exist_ok=True)
    name = f"{time.time_ns():020d}-{os.getpid()}.json"
    temporary = directory / f".{name}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(entry, handle)
        handle.flush()
        os.fsync(handle.fileno())
    path = directory / name
    os.replace(temporary, path)
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return path


def pending(git_dir: str) -> list[Path]:
    """Entries not recorded yet, oldest first."""
    directory = spool_dir(git_dir)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == ".json" and not p.name.startswith("."))


def read_entry(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@contextlib.contextmanager
def recorder_lock(git_dir: str, wait_seconds: float) -> Iterator[bool]:
    """Hold the spool lock; yields False if another recorder kept it for wait_seconds."""
    directory = spool_dir(git_dir)
    directory.mkdir(exist_ok=True)
    with open(directory / _LOCK_NAME, "a") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def note_failure(git_dir: str, path: Path, why: str) -> None:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(spool_dir(git_dir) / LOG_NAME, "a", encoding="utf-8") as handle:
        handle.write(f"{stamp} {path.name}: not recorded, will retry: {why}\n")


def start_recorder(git_dir: str, config_path: str | None, env: Mapping[str, str]) -> None:
    """Start `auditsvc hook record` detached from the push: the pusher does not wait for it."""
    args = [sys.executable, "-m", "auditsvc", "hook", "record", os.path.abspath(git_dir)]
    if config_path:
        args += ["--config", config_path]
    child_env = {k: v for k, v in env.items() if k not in _QUARANTINE_VARIABLES}
    with open(spool_dir(git_dir) / LOG_NAME, "a", encoding="utf-8") as log:
        subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=child_env,
            cwd=os.path.abspath(git_dir),
            start_new_session=True,
        )


def backlog_warning(git_dir: str, older_than_seconds: float) -> str | None:
    """One line for the pusher when pushes spooled more than older_than_seconds ago are still not
    recorded (a recorder normally takes seconds); None when there are none."""
    now = time.time()
    ages = []
    for path in pending(git_dir):
        with contextlib.suppress(FileNotFoundError):  # recorded meanwhile
            ages.append(now - path.stat().st_mtime)
    late = [age for age in ages if age > older_than_seconds]
    if not late:
        return None
    return (
        f"{len(late)} earlier push{'es' if len(late) != 1 else ''} landed but not yet recorded in the audit log "
        f"(oldest {int(max(late))} s ago); see {spool_dir(git_dir) / LOG_NAME}"
    )
