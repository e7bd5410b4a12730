"""`auditsvc import`: real git histories, real pushes through the hook, a real log (both backends where it matters)."""

from __future__ import annotations

import datetime
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from auditsvc import queries
from auditsvc.audit import open_log
from auditsvc.config import load_settings
from auditsvc.importer import IMPORT_PUSHER, import_history

from conftest import ROOT, Server, clean_env, git
from test_queries import CONFIG, WEB

AUTHORS = [("Ada Author", "ada@example.com"), ("Bo Builder", "bo@example.com"), ("Cy Coder", "cy@example.com")]


def make_history(git_dir: Path, times: list[int], files: int = 3) -> list[str]:
    """A bare repository whose main has one commit per time, commit i setting apps/cm-{i % files}.yaml
    (a ConfigMap) to mode v{i}; made with git fast-import. Returns the commit ids, oldest first."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(git_dir)], check=True)
    chunks = []
    for i, ts in enumerate(times):
        name, email = AUTHORS[i % len(AUTHORS)]
        message = f"change {i}\n".encode()
        data = CONFIG.format(name=f"cm-{i % files}", mode=f"v{i}").encode()
        chunk = (
            f"commit refs/heads/main\nmark :{i + 1}\nauthor {name} <{email}> {ts} +0000\n"
            f"committer {name} <{email}> {ts} +0000\ndata {len(message)}\n"
        ).encode() + message
        if i:
            chunk += f"from :{i}\n".encode()
        chunk += f"M 100644 inline apps/cm-{i % files}.yaml\ndata {len(data)}\n".encode() + data + b"\n"
        chunks.append(chunk)
    subprocess.run(["git", "-C", str(git_dir), "fast-import", "--quiet"], input=b"".join(chunks), check=True, env=clean_env())
    return git(git_dir, "rev-list", "--reverse", "main").split()


def change_events(url: str) -> dict[str, dict]:
    with open_log(url) as log:
        return {e.natural_key: e.body for e in log.events() if e.type == "change"}


def all_events(url: str) -> list:
    with open_log(url) as log:
        return list(log.events())


def settings():
    return load_settings(None, environ={})


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    """A history pushed through the hook in steps: a branch, a merge, a rename, a delete, a tag."""
    server = Server(tmp_path_factory.mktemp("pushed"))
    server.commit({"apps/web.yaml": WEB.format(replicas=1, image="nginx:1.27"), "apps/cfg.yaml": CONFIG.format(name="cfg", mode="a")}, "create")
    server.ok("origin", "main", user="alice")
    git(server.work, "checkout", "-q", "-b", "feature")
    server.commit({"apps/cfg.yaml": CONFIG.format(name="cfg", mode="b")}, "cfg b")
    server.commit({"apps/extra.yaml": CONFIG.format(name="extra", mode="x")}, "extra")
    server.ok("origin", "feature", user="bob")
    git(server.work, "checkout", "-q", "main")
    server.commit({"apps/web.yaml": WEB.format(replicas=2, image="nginx:1.28")}, "bump", author="Eve Editor <eve@example.com>")
    server.ok("origin", "main", user="alice")
    git(server.work, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    server.move("apps/cfg.yaml", "apps/config.yaml", "rename cfg")
    server.commit({"apps/extra.yaml": None}, "drop extra")
    git(server.work, "tag", "-a", "v1", "-m", "release 1")
    server.ok("origin", "main", "v1", user="carol")
    return server


def test_import_of_a_history_equals_what_pushes_recorded(pushed, run_cli, log_store):
    recorded = change_events(pushed.url)
    assert len(recorded) == 9
    fresh = log_store.url
    proc = run_cli("import", pushed.git_dir, "--db", fresh)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "imported server: 2 refs, 7 commits (0 already recorded), 9 change events added; checkpoint at size 11\n"
    assert proc.stderr == ""  # no progress bar without a terminal
    imported = change_events(fresh)
    assert imported.keys() == recorded.keys()
    for key, body in imported.items():
        assert body["pusher"] == IMPORT_PUSHER
        assert "pushed_at" not in body and recorded[key]["pushed_at"]  # a pushed change knows its push time
        pushed = {k: v for k, v in recorded[key].items() if k != "pushed_at"}
        assert {**body, "pusher": None} == {**pushed, "pusher": None}, key
    # The same queries answer from either log, except who pushed.
    with open_log(fresh) as log:
        history = queries.history(log, "ConfigMap", "shop", "cfg")
        # modified on the feature branch, then on main by the merge (diffed against its first parent)
        assert [(c.op, c.ref, c.pushed_at) for c in history] == [
            ("created", "refs/heads/main", None),
            ("modified", "refs/heads/main", None),  # the first ref reaching the commit: main, HEAD's branch
            ("modified", "refs/heads/main", None),
            ("renamed", "refs/heads/main", None),
        ]
        assert all(c.imported and c.time == c.committer["time"] for c in history)
    assert run_cli("verify", "--db", fresh).returncode == 0


def test_import_after_pushes_adds_no_change_events(pushed, run_cli):
    before = all_events(pushed.url)
    proc = run_cli("import", pushed.git_dir, "--db", pushed.url, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["commits"], result["skipped"], result["recorded"], result["import_events"]) == (7, 7, 0, 2)
    assert [(r["ref"], r["commits"], r["changes"]) for r in result["refs"]] == [("refs/heads/main", 7, 9), ("refs/heads/feature", 0, 0)]
    after = all_events(pushed.url)
    assert after[: len(before)] == before
    added = after[len(before) :]
    assert [(e.type, e.ref, e.commit) for e in added] == [
        ("import", "refs/heads/main", git(pushed.git_dir, "rev-parse", "main")),
        ("import", "refs/heads/feature", git(pushed.git_dir, "rev-parse", "feature")),
    ]
    again = run_cli("import", pushed.git_dir, "--db", pushed.url)
    assert again.returncode == 0 and "(7 already recorded), 0 change events added" in again.stdout
    assert all_events(pushed.url) == after
    assert run_cli("verify", "--db", pushed.url).returncode == 0


def test_import_twice_adds_nothing(tmp_path, log_store):
    git_dir = tmp_path / "hist.git"
    make_history(git_dir, [1_600_000_000 + 60 * i for i in range(40)])
    url = log_store.url
    with open_log(url) as log:
        first = import_history(log, str(git_dir), settings(), batch_size=7)
        size = log.size()
        second = import_history(log, str(git_dir), settings(), batch_size=7)
        assert log.size() == size
        assert log.verify().ok
    assert (first.commits, first.skipped, first.recorded, first.import_events) == (40, 0, 40, 1)
    assert (second.commits, second.skipped, second.recorded, second.import_events) == (40, 40, 0, 0)
    assert first.checkpoint == second.checkpoint == 41


_CHILD = """
import sys, time
from auditsvc.audit import open_log
from auditsvc.config import load_settings
from auditsvc.importer import import_history

url, git_dir, pause = sys.argv[1], sys.argv[2], sys.argv[3] == "pause"

def progress(done, total):
    if 75 <= done < total:  # three batches are in
        print(done, flush=True)
        if pause:
            time.sleep(600)

with open_log(url) as log:
    import_history(log, git_dir, load_settings(None, environ={}), batch_size=25, progress=progress)
print("finished", flush=True)
"""


@pytest.mark.parametrize("pause", ["pause", "run"])
def test_import_killed_mid_run_resumes_without_duplicates(tmp_path, run_cli, pause, log_store):
    git_dir = tmp_path / "long.git"
    commits = make_history(git_dir, [1_600_000_000 + 60 * i for i in range(300)], files=20)
    expected_url = f"sqlite:///{tmp_path}/expected.db"
    with open_log(expected_url) as log:
        import_history(log, str(git_dir), settings())
    expected = change_events(expected_url)
    assert len(expected) == 300

    url = log_store.url
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, url, str(git_dir), pause],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=clean_env(),
    )
    first = child.stdout.readline()
    assert first.strip().isdigit(), (first, child.stderr.read() if child.poll() is not None else "")
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    # "run" kills it while it works on (almost surely) a later batch; "pause" while it waits
    assert child.returncode == -signal.SIGKILL or pause == "run"
    partial = change_events(url)
    assert partial.keys() <= expected.keys()
    if pause == "pause":
        assert 75 <= len(partial) < 300  # killed with three batches in, the rest not
        assert not any(e.type == "import" for e in all_events(url))

    resumed = run_cli("import", git_dir, "--db", url, "--batch-size", "25", "-o", "json")
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["commits"] == 300 and result["recorded"] == 300 - len(partial)
    assert result["refs"] == [{"ref": "refs/heads/main", "tip": commits[-1], "commits": 300, "changes": 300}]
    final = change_events(url)
    assert final.keys() == expected.keys()
    events = all_events(url)
    changed = [(e.commit, e.body["path"]) for e in events if e.type == "change"]
    assert len(changed) == len(set(changed)) == 300
    assert [e.type for e in events].count("import") == 1
    verify = run_cli("verify", "--db", url)
    assert verify.returncode == 0, verify.stdout


def test_imported_history_is_queried_by_commit_time(tmp_path, run_cli, log_store):
    git_dir = tmp_path / "dated.git"
    old = int(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
    recent = int((datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)).timestamp())
    commits = make_history(git_dir, [old + 3600 * i for i in range(6)] + [recent + 60 * i for i in range(3)])
    url = log_store.url
    assert run_cli("import", git_dir, "--db", url, "--repo", "infra").returncode == 0
    with open_log(url) as log:
        assert {c.commit for c in queries.changes(log, since="7d")} == set(commits[6:])
        assert {c.commit for c in queries.changes(log, until="2020-12-31", limit=None)} == set(commits[:6])
        assert {c.commit for c in queries.changes(log, since="2020-01-01T02:00:00Z", until="2020-01-01")} == set(commits[2:6])
        history = queries.history(log, "ConfigMap", "shop", "cm-0", repo="infra")
        assert [c.commit for c in history] == [commits[0], commits[3], commits[6]]
        assert history[0].time == "2020-01-01T00:00:00Z" and history[0].pushed_at is None
        assert history[0].actor == "ada@example.com (imported)"
        state = queries.state(log, "2020-01-01T01:30:00Z")
        assert [(r.label, r.content["data"]) for r in state.resources] == [("ConfigMap/shop/cm-0", {"mode": "v0"}), ("ConfigMap/shop/cm-1", {"mode": "v1"})]
        at_commit = queries.state(log, commits[4])
        assert [r.content["data"]["mode"] for r in at_commit.resources] == ["v3", "v4", "v2"]
        record = queries.show(log, commits[-1])
        assert [e.type for e in record.imports] == ["import"] and len(record.changes) == 1
    text = run_cli("history", "ConfigMap/shop/cm-1", "--db", url)
    assert text.stdout.splitlines()[0] == (
        f"2020-01-01T01:00:00Z  {commits[1][:8]}  bo@example.com (imported)  created  ConfigMap/shop/cm-1  apps/cm-1.yaml"
    )
    assert text.stdout.splitlines()[1].endswith("modified  ConfigMap/shop/cm-1  apps/cm-1.yaml  data.mode: v1 -> v4")


def test_import_selected_refs(pushed, run_cli, tmp_path):
    url = f"sqlite:///{tmp_path}/audit.db"
    proc = run_cli("import", pushed.git_dir, "--ref", "feature", "--ref", "v1", "--repo", "infra", "--db", url, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [(r["ref"], r["commits"]) for r in result["refs"]] == [("refs/heads/feature", 3), ("refs/tags/v1", 4)]
    assert result["repo"] == "infra"
    with open_log(url) as log:
        assert {e.repo for e in log.events()} == {"infra"}
        assert {c.ref for c in queries.changes(log, limit=None)} == {"refs/heads/feature", "refs/tags/v1"}


def test_import_errors_are_one_line(run_cli, tmp_path, pushed):
    (tmp_path / "plain").mkdir()
    url = f"sqlite:///{tmp_path}/audit.db"
    for args, message in [
        (("import", tmp_path / "plain", "--db", url), "git rev-parse"),
        (("import", tmp_path / "missing", "--db", url), "is not a directory"),
        (("import", pushed.git_dir, "--ref", "nope", "--db", url), "no ref 'nope'"),
    ]:
        proc = run_cli(*args)
        assert proc.returncode == 3, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
