"""The warm hook daemon: shims installed with --socket hand real pushes to `auditsvc hook daemon`,
and run the hook themselves when it is not there."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import Server, clean_env
from test_hook import GOOD, ROOT


class Daemon:
    def __init__(self, root: Path) -> None:
        self.socket = root / "hooks.sock"
        self.log = root / "daemon.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "auditsvc", "hook", "daemon", "--socket", str(self.socket)], stderr=log, env=clean_env()
            )
        deadline = time.monotonic() + 60
        while "listening on" not in self.log.read_text():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.05)

    def served(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if " in " in line and line.endswith(" ms")]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def daemon(tmp_path: Path):
    running = Daemon(tmp_path)
    yield running
    running.stop()


def test_pushes_are_checked_and_recorded_by_the_daemon(daemon: Daemon, tmp_path: Path) -> None:
    server = Server(tmp_path / "git", socket=daemon.socket)
    assert "auditsvc.hookd pre-receive --socket" in (server.git_dir / "hooks" / "pre-receive").read_text()
    good = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    server.ok("origin", "main", user="alice")
    bad = server.commit({"apps/web.yaml": ROOT.format(image="nginx:1.28")}, "run as root")
    refused = server.push("origin", "main", user="mallory")
    assert refused.returncode != 0
    assert f"FAIL apps/web.yaml:1 [commit {bad[:12]}] main.deny: Deployment/shop/web: Containers must not run as root" in refused.stderr
    # The daemon's child saw the pushed objects in git's quarantine and the pusher's identity.
    served = daemon.served()
    assert [line.split(" ")[0] for line in served] == ["pre-receive", "post-receive", "pre-receive"]
    assert served[2].startswith(f"pre-receive {server.git_dir}: exit 1")
    pushes = server.events("push")
    assert [(p["commit"], p["accepted"], p["pusher"]["name"]) for p in pushes] == [(good, True, "alice"), (bad, False, "mallory")]
    assert [c["commit"] for c in server.events("change")] == [good]
    assert server.verify().startswith("audit log verified")


def test_without_the_daemon_the_shim_runs_the_hook_itself(daemon: Daemon, tmp_path: Path) -> None:
    server = Server(tmp_path / "git", socket=daemon.socket)
    daemon.stop()
    good = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    server.ok("origin", "main")
    server.commit({"apps/web.yaml": ROOT.format(image="nginx:1.27")}, "run as root")
    refused = server.push("origin", "main")
    assert refused.returncode != 0 and "main.deny: Deployment/shop/web: Containers must not run as root" in refused.stderr
    assert [c["commit"] for c in server.events("change")] == [good]
    assert daemon.served() == []


def test_a_socket_it_cannot_listen_on_is_one_clear_line(run_cli, tmp_path: Path) -> None:
    proc = run_cli("hook", "daemon", "--socket", str(tmp_path / ("x" * 120) / "hooks.sock"))
    assert proc.returncode == 3
    assert proc.stderr.startswith("auditsvc: error: cannot listen on ") and "Traceback" not in proc.stderr
