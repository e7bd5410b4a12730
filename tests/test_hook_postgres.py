"""Scale-out, end to end: two Git servers' hooks record real pushes into one PostgreSQL log.

Both connect as a role granted only INSERT and SELECT (as the README's setup makes them) and
share one signing key file; the log must stay gapless and verify while they push at once.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from conftest import PgSchema, Server, clean_env, git, write

DOWN = "postgresql://postgres@127.0.0.1:9/test"  # nothing listens there

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
spec:
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: web
          image: nginx:{tag}
"""


@pytest.fixture
def writer_url(pg_schema: PgSchema, pg_role: str, tmp_path: Path, run_cli) -> str:
    """The log created by its owner with `auditsvc init --grant-writer`, and the writers' URL."""
    done = run_cli("init", "--db", pg_schema.url(), "--grant-writer", pg_role)
    assert done.returncode == 0, done.stderr
    return pg_schema.url(tmp_path / "keys" / "audit.key", user=pg_role)


def test_two_git_servers_record_concurrent_pushes_into_one_log(writer_url: str, tmp_path: Path) -> None:
    servers = [Server(tmp_path / name, {"db": writer_url}) for name in ("east", "west")]
    clients = []
    for n, server in enumerate(servers):
        for c in range(2):
            work = tmp_path / f"client-{n}-{c}"
            subprocess.run(["git", "clone", "-q", str(server.git_dir), str(work)], check=True, env=clean_env(), capture_output=True)
            for i in range(2):
                name = f"app{n}{c}{i}"
                write(work / f"apps/{name}.yaml", DEPLOYMENT.format(name=name, tag=f"1.{i}"))
                git(work, "add", ".")
                git(work, "commit", "-q", "-m", f"add {name}")
            clients.append((server, work, f"refs/heads/team{c}"))
    pushes = [
        subprocess.Popen(
            ["git", "-C", str(work), "push", "origin", f"HEAD:{ref}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
        )
        for _, work, ref in clients
    ]
    results = [p.communicate(timeout=180) for p in pushes]
    assert [p.returncode for p in pushes] == [0, 0, 0, 0], results
    for server in servers:
        server.recorded()

    events = servers[0].events()
    assert sorted(e["ref"] for e in events if e["type"] == "push") == ["refs/heads/team0"] * 2 + ["refs/heads/team1"] * 2
    changes = [e for e in events if e["type"] == "change"]
    assert len(changes) == 8 and len({(c["commit"], c["path"]) for c in changes}) == 8
    assert servers[1].verify().startswith(f"audit log verified: {len(events)} events")


def test_a_database_that_is_down_loses_nothing(writer_url: str, tmp_path: Path) -> None:
    """Down at pre-receive: the push is refused (fail_mode closed). Down at post-receive: what
    landed stays spooled, and the next push's recorder records it."""
    server = Server(tmp_path, {"db": writer_url})
    first = server.commit({"apps/web.yaml": DEPLOYMENT.format(name="web", tag="1.27")}, "add web")
    server.ok("origin", "main")
    config = server.config.read_text()
    server.config.write_text(config.replace(writer_url.split("?")[0], DOWN))
    second = server.commit({"apps/web.yaml": DEPLOYMENT.format(name="web", tag="1.28")}, "bump")
    refused = server.push("origin", "main")
    assert refused.returncode != 0 and f"cannot connect to audit log {DOWN}" in refused.stderr
    assert "Traceback" not in refused.stderr
    server.config.write_text(config)

    post_receive = server.git_dir / "hooks" / "post-receive"
    post_receive.rename(tmp_path / "post-receive")
    server.ok("origin", "main")  # lands; its recording is left to the shim run below, with the database down
    env = clean_env(GIT_DIR=str(server.git_dir), AUDITSVC_DB=DOWN)
    subprocess.run([str(tmp_path / "post-receive")], input=f"{first} {second} refs/heads/main\n", text=True, env=env, check=True)
    spool = server.git_dir / "auditsvc-spool"
    deadline = time.monotonic() + 60
    while "not recorded, will retry" not in ((spool / "recorder.log").read_text() if (spool / "recorder.log").exists() else ""):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert f"cannot connect to audit log {DOWN}" in (spool / "recorder.log").read_text()
    assert [p for p in spool.iterdir() if p.suffix == ".json"]

    (tmp_path / "post-receive").rename(post_receive)
    third = server.commit({"apps/web.yaml": DEPLOYMENT.format(name="web", tag="1.29")}, "bump again")
    server.ok("origin", "main")
    assert [c["commit"] for c in server.events("change")] == [first, second, third]
    assert server.verify().startswith("audit log verified")
