"""The installed hook, end to end: real `git push` to a real bare repository, real SQLite log."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from auditsvc import queries
from auditsvc.audit import SqliteAuditLog
from auditsvc.install import install

from conftest import DATA, Server, clean_env, git, write

GOOD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: web
          image: {image}
"""
ROOT = GOOD.replace("      securityContext:\n        runAsNonRoot: true\n", "")


@pytest.fixture
def server(tmp_path: Path) -> Server:
    return Server(tmp_path)


def test_clean_push_is_accepted_and_recorded(server):
    commit = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    proc = server.push("origin", "main")
    assert proc.returncode == 0, proc.stderr
    [push] = server.events("push")
    assert (push["ref"], push["commit"], push["accepted"], push["forced"]) == ("refs/heads/main", commit, True, False)
    assert push["pusher"]["authenticated"] is False  # plain local push: the OS user
    [change] = server.events("change")
    assert (change["op"], change["path"], change["commit"]) == ("created", "apps/web.yaml", commit)
    assert change["resource"] == {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"}
    assert change["author"]["name"] == "Ada Author" and change["committer"]["name"] == "Carl Committer"
    assert push["policy_digest"] and push["kubernetes_version"]
    assert server.verify().startswith("audit log verified")


def test_bad_push_is_refused_with_file_line_rule_and_recorded_without_changes(server):
    commit = server.commit({"apps/web.yaml": ROOT.format(image="nginx:latest")}, "add root web")
    proc = server.push("origin", "main")
    assert proc.returncode != 0
    assert "refs/heads/main (enforced): REFUSED" in proc.stderr
    assert f"FAIL apps/web.yaml:1 [commit {commit[:12]}] main.deny: Deployment/shop/web: Containers must not run as root" in proc.stderr
    assert "FAIL apps/web.yaml:15" in proc.stderr and "main.deny_latest" in proc.stderr
    assert 'git push -o override="INC-123: reason"' in proc.stderr
    assert "Traceback" not in proc.stderr
    [push] = server.events("push")
    assert push["accepted"] is False
    assert {f["rule"] for f in push["findings"]} == {"main.deny", "main.deny_latest"}
    assert server.events("change") == []
    assert git(server.git_dir, "for-each-ref") == ""  # nothing landed


def test_second_push_records_only_the_modification_with_its_field_diff(server):
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    assert server.push("origin", "main").returncode == 0
    second = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.28")}, "bump web")
    assert server.push("origin", "main").returncode == 0
    changes = server.events("change")
    assert [c["op"] for c in changes] == ["created", "modified"]
    assert changes[1]["commit"] == second
    assert changes[1]["diff"] == [
        {"path": "spec.template.spec.containers[0].image", "old": "nginx:1.27", "new": "nginx:1.28", "op": "replace"}
    ]


def test_unprotected_ref_is_warn_only(server):
    server.commit({"apps/web.yaml": ROOT.format(image="nginx:1.27")}, "root web on a branch")
    proc = server.push("origin", "HEAD:refs/heads/feature")
    assert proc.returncode == 0, proc.stderr
    assert "refs/heads/feature (warn-only): accepted" in proc.stderr
    assert [c["ref"] for c in server.events("change")] == ["refs/heads/feature"]


def test_override_from_an_allowed_pusher_is_accepted_and_recorded(server):
    server.commit({"apps/web.yaml": ROOT.format(image="nginx:1.27")}, "hotfix as root")
    proc = server.push("-o", "override=INC-123: database down", "origin", "main", user="alice")
    assert proc.returncode == 0, proc.stderr
    assert "OVERRIDE by alice: INC-123: database down (recorded)" in proc.stderr
    [override] = server.events("override")
    assert override["reason"] == "INC-123: database down"
    assert override["pusher"]["name"] == "alice" and override["pusher"]["source"] == "http"
    assert [f["rule"] for f in override["overridden"]] == ["main.deny"]
    assert len(server.events("change")) == 1


def test_override_from_anyone_else_is_refused(server):
    server.commit({"apps/web.yaml": ROOT.format(image="nginx:1.27")}, "hotfix as root")
    proc = server.push("-o", "override=INC-9: trust me", "origin", "main", user="mallory")
    assert proc.returncode != 0
    assert "override requested by mallory, who is not in overrides.allowed" in proc.stderr
    assert server.events("override") == []


def test_force_push_and_delete_of_protected_ref_are_refused(server):
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "one")
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.28")}, "two")
    assert server.push("origin", "main").returncode == 0
    git(server.work, "reset", "-q", "--hard", "HEAD~1")
    forced = server.push("--force", "origin", "main")
    assert forced.returncode != 0
    assert "force-pushing the protected ref refs/heads/main is not allowed" in forced.stderr
    deleted = server.push("origin", ":main")
    assert deleted.returncode != 0
    assert "deleting the protected ref refs/heads/main is not allowed" in deleted.stderr
    pushes = server.events("push")
    assert [(p["forced"], p["accepted"]) for p in pushes] == [(False, True), (True, False), (False, False)]


def test_replaying_a_push_records_nothing_new(server):
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    assert server.push("origin", "main").returncode == 0
    before = len(server.events())
    updates = f"{'0' * 40} {git(server.git_dir, 'rev-parse', 'main')} refs/heads/main\n"
    env = clean_env(GIT_DIR=str(server.git_dir))
    for hook in ("pre-receive", "post-receive"):
        subprocess.run([str(server.git_dir / "hooks" / hook)], input=updates, text=True, env=env, capture_output=True, check=True)
    assert len(server.events()) == before


def test_broken_policy_fails_closed_without_traceback(server, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "p.rego").write_text("package main\n\ndeny[msg] {\n  msg := \n")
    config = json.loads(server.config.read_text())
    server.config.write_text(json.dumps({**config, "policies": [str(broken)]}))
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    proc = server.push("origin", "main")
    assert proc.returncode != 0
    assert "could not check this push: policies do not compile" in proc.stderr
    assert "push refused (fail_mode: closed)" in proc.stderr
    assert "Traceback" not in proc.stderr
    [push] = server.events("push")
    assert push["accepted"] is False and push["fail_mode"] == "closed"


def test_fail_open_accepts_when_the_check_cannot_run(server, tmp_path):
    config = json.loads(server.config.read_text())
    server.config.write_text(json.dumps({**config, "policies": [str(tmp_path / "missing")], "fail_mode": "open"}))
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    proc = server.push("origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert "push accepted unchecked (fail_mode: open)" in proc.stderr
    assert len(server.events("change")) == 1


def test_tampering_with_the_log_is_caught(server):
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    assert server.push("origin", "main").returncode == 0
    with sqlite3.connect(server.db) as raw:
        raw.execute("DROP TRIGGER events_no_update")
        raw.execute("UPDATE events SET repo = 'elsewhere' WHERE type = 'change'")
    assert "FAILED verification" in server.verify()


def test_concurrent_pushes_lose_and_duplicate_nothing(server, tmp_path):
    """Several clients push different branches at once: every push and change is recorded once."""
    clients = []
    for n in range(4):
        work = tmp_path / f"client{n}"
        subprocess.run(["git", "clone", "-q", str(server.git_dir), str(work)], check=True, env=clean_env(), capture_output=True)
        for i in range(3):
            write(work / f"apps/app{n}-{i}.yaml", GOOD.format(image=f"nginx:1.{i}").replace("name: web", f"name: app{n}-{i}"))
            git(work, "add", ".")
            git(work, "commit", "-q", "-m", f"client {n} change {i}")
        clients.append(work)
    procs = [
        subprocess.Popen(
            ["git", "-C", str(work), "push", "origin", f"HEAD:refs/heads/team{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        for n, work in enumerate(clients)
    ]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], results
    events = server.events()
    assert sorted(e["ref"] for e in events if e["type"] == "push") == [f"refs/heads/team{n}" for n in range(4)]
    changes = [e for e in events if e["type"] == "change"]
    assert len(changes) == 12
    assert len({(c["commit"], c["path"]) for c in changes}) == 12
    assert server.verify().startswith("audit log verified")


def test_multi_ref_push_with_new_branch_tags_and_deletion(server):
    first = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    git(server.work, "tag", "-a", "v1", "-m", "release 1")
    git(server.work, "tag", "light")
    git(server.work, "branch", "feature")
    proc = server.push("origin", "main", "feature", "v1", "light")
    assert proc.returncode == 0, proc.stderr
    pushes = {p["ref"]: p for p in server.events("push")}
    assert set(pushes) == {"refs/heads/main", "refs/heads/feature", "refs/tags/v1", "refs/tags/light"}
    assert pushes["refs/tags/light"]["commit"] == first
    changes = server.events("change")
    assert [(c["commit"], c["op"]) for c in changes] == [(first, "created")]  # shared commits counted once
    deleted = server.push("origin", ":feature")
    assert deleted.returncode == 0, deleted.stderr
    assert [p["accepted"] for p in server.events("push") if p["ref"] == "refs/heads/feature"] == [True, True]


def test_merge_and_rename_are_recorded_against_the_right_commit(server):
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    assert server.push("origin", "main").returncode == 0
    git(server.work, "checkout", "-q", "-b", "topic")
    topic = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.28")}, "bump on topic")
    git(server.work, "checkout", "-q", "main")
    renamed = server.commit({"apps/web.yaml": None, "apps/frontend.yaml": GOOD.format(image="nginx:1.27")}, "rename")
    git(server.work, "merge", "-q", "--no-ff", "-m", "merge topic", "topic", "-X", "theirs")
    merge = git(server.work, "rev-parse", "HEAD")
    proc = server.push("origin", "main")
    assert proc.returncode == 0, proc.stderr
    later = [(c["commit"], c["op"], c["path"]) for c in server.events("change")][1:]
    assert (renamed, "renamed", "apps/frontend.yaml") in later
    assert (topic, "modified", "apps/web.yaml") in later
    assert any(commit == merge for commit, _, _ in later)  # the merge, against its first parent


def test_gitea_style_dispatcher_runs_the_hook(tmp_path):
    git_dir = tmp_path / "gitea.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(git_dir)], check=True)
    dispatcher = git_dir / "hooks/pre-receive"
    dispatcher.write_text(
        "#!/usr/bin/env bash\n# AUTO GENERATED BY GITEA, DO NOT MODIFY\ndata=$(cat)\nexitcodes=\"\"\n"
        'for hook in "$(dirname "$0")"/pre-receive.d/*; do\n  test -x "$hook" || continue\n'
        '  echo "$data" | "$hook"\n  exitcodes="$exitcodes $?"\ndone\n'
        "for i in $exitcodes; do [ $i -eq 0 ] || exit $i; done\n"
    )
    dispatcher.chmod(0o755)
    (git_dir / "hooks/pre-receive.d").mkdir()
    config = tmp_path / "auditsvc.yaml"
    config.write_text(json.dumps({"db": f"sqlite:///{tmp_path}/audit.db", "policies": [str(DATA / "policies")], "protected_refs": ["refs/heads/main"]}))
    paths = install(str(git_dir), str(config))
    assert paths["pre-receive"] == git_dir / "hooks/pre-receive.d/auditsvc"
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(git_dir), str(work)], check=True, env=clean_env(), capture_output=True)
    write(work / "apps/web.yaml", ROOT.format(image="nginx:1.27"))
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "root")
    proc = subprocess.run(["git", "-C", str(work), "push", "origin", "main"], capture_output=True, text=True, env=clean_env(GITEA_PUSHER_NAME="gitea-user"))
    assert proc.returncode != 0
    assert "main.deny: Deployment/shop/web: Containers must not run as root" in proc.stderr
    with SqliteAuditLog.open(f"sqlite:///{tmp_path}/audit.db") as log:
        [event] = list(log.events())
    assert event.body["pusher"] == {"name": "gitea-user", "source": "gitea", "authenticated": True, "email": "", "id": ""}


def test_a_push_whose_recording_fails_stays_spooled_and_is_recorded_later(server, tmp_path):
    """The recorder runs after the push; if it cannot write the log, the spool keeps what landed,
    the next pusher is told, and the next recorder records it."""
    first = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    server.ok("origin", "main")
    post_receive = server.git_dir / "hooks" / "post-receive"
    post_receive.rename(tmp_path / "post-receive")
    second = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.28")}, "bump")
    server.ok("origin", "main")  # lands; nothing records its changes
    post_receive_copy = tmp_path / "post-receive"
    broken_db = tmp_path / "not-a-db"
    broken_db.mkdir()
    env = clean_env(GIT_DIR=str(server.git_dir), AUDITSVC_DB=f"sqlite:///{broken_db}")
    subprocess.run([str(post_receive_copy)], input=f"{first} {second} refs/heads/main\n", text=True, env=env, check=True)
    spool = server.git_dir / "auditsvc-spool"
    deadline = time.monotonic() + 60
    while "not recorded, will retry" not in ((spool / "recorder.log").read_text() if (spool / "recorder.log").exists() else ""):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [entry] = [p for p in spool.iterdir() if p.suffix == ".json"]
    assert json.loads(entry.read_text())["landings"] == [
        {"ref": "refs/heads/main", "old": first, "new": second, "commits": [second], "known": [], "mainline": [second], "forced": False, "base": None}
    ]
    old = time.time() - 120
    os.utime(entry, (old, old))

    post_receive_copy.rename(post_receive)
    third = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.29")}, "bump again")
    proc = server.push("origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert "WARNING: 1 earlier push landed but not yet recorded in the audit log (oldest 1" in proc.stderr
    assert [c["commit"] for c in server.events("change")] == [first, second, third]
    assert not entry.exists()
    with server.log() as log:
        [late] = [c for c in queries.history(log, "Deployment", "shop", "web") if c.commit == second]
        assert late.time == late.pushed_at < late.recorded_at  # when it landed, not when it was recorded
    assert server.verify().startswith("audit log verified")


def test_record_by_hand_reports_what_it_cannot_record(server, run_cli):
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    server.ok("origin", "main")
    spool = server.git_dir / "auditsvc-spool"
    (spool / "00000000000000000001-1.json").write_text("{not json")
    proc = run_cli("hook", "record", str(server.git_dir), "--config", str(server.config))
    assert proc.returncode == 1
    assert "00000000000000000001-1.json not recorded: unreadable spool entry" in proc.stderr
    assert "Traceback" not in proc.stderr
    (spool / "00000000000000000001-1.json").unlink()
    assert run_cli("hook", "record", str(server.git_dir), "--config", str(server.config)).returncode == 0


def test_an_entry_spooled_by_the_previous_version_is_recorded(server, run_cli):
    """Before per-ref landings the spool held each new commit with the first ref bringing it:
    entries left by an upgrade are recorded as that version recorded them."""
    first = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    server.ok("origin", "main")
    post_receive = server.git_dir / "hooks" / "post-receive"
    post_receive.unlink()
    second = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.28")}, "bump")
    server.ok("origin", "main", user="bob")  # lands; nothing spools it
    spool = server.git_dir / "auditsvc-spool"
    pusher = {"name": "bob", "source": "REMOTE_USER", "authenticated": True}
    (spool / "00000000000000000001-1.json").write_text(json.dumps({
        "repo": "server", "updates": [[first, second, "refs/heads/main"]], "landed": [[second, "refs/heads/main"]],
        "pusher": pusher, "pushed_at": time.time(),
    }))
    assert run_cli("hook", "record", str(server.git_dir), "--config", str(server.config)).returncode == 0
    [bump] = [c for c in server.events("change") if c["commit"] == second]
    assert (bump["ref"], bump["op"], bump["pusher"]["name"]) == ("refs/heads/main", "modified", "bob")
    assert not list(spool.glob("*.json"))


# --- what each ref update brings to its ref -------------------------------------------------


def api(template: str, image: str) -> str:
    return template.format(image=image).replace("name: web", "name: api")


def replay_post_receive(server: Server, old: str, new: str, ref: str) -> None:
    env = clean_env(GIT_DIR=str(server.git_dir))
    hook = server.git_dir / "hooks" / "post-receive"
    subprocess.run([str(hook)], input=f"{old} {new} {ref}\n", text=True, env=env, capture_output=True, check=True)
    server.recorded()


def tree_resources(git_dir: Path, rev: str) -> dict[tuple[str, str, str], dict]:
    """Every resource of the manifests at rev, by (kind, namespace, name)."""
    import yaml

    found = {}
    for path in git(git_dir, "ls-tree", "-r", "--name-only", rev).split():
        if path.endswith((".yaml", ".yml")):
            for doc in yaml.safe_load_all(git(git_dir, "show", f"{rev}:{path}")):
                found[(doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])] = doc
    return found


def state_resources(server: Server, ref: str) -> dict[tuple[str, str, str], dict]:
    with server.log() as log:
        found = queries.state(log, "2999-01-01", ref=ref).resources
    return {(r.resource["kind"], r.resource["namespace"], r.resource["name"]): r.content for r in found}


def test_a_protected_ref_moved_onto_commits_of_a_warn_only_branch_checks_them(tmp_path):
    server = Server(tmp_path, {"protected_refs": ["refs/heads/main", "refs/heads/release/*"], "allow_protected_force_push": True})
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    server.ok("origin", "main")
    git(server.work, "checkout", "-q", "-b", "feature")
    bad = server.commit({"apps/api.yaml": api(ROOT, "nginx:1.27")}, "api as root")
    warned = server.push("origin", "feature")
    assert warned.returncode == 0 and "refs/heads/feature (warn-only): accepted" in warned.stderr
    for target in ("refs/heads/main", "refs/heads/release/1"):  # fast-forward; create at the branch's tip
        proc = server.push("origin", f"feature:{target}")
        assert proc.returncode != 0, target
        assert f"{target} (enforced): REFUSED" in proc.stderr
        assert f"FAIL apps/api.yaml:1 [commit {bad[:12]}] main.deny: Deployment/shop/api: Containers must not run as root" in proc.stderr
        [refused] = [p for p in server.events("push") if p["ref"] == target and p["commit"] == bad]
        assert refused["accepted"] is False and refused["commits"] == [bad]
    assert git(server.git_dir, "for-each-ref", "--format=%(refname)") == "refs/heads/feature\nrefs/heads/main"
    git(server.work, "checkout", "-q", "-b", "clean", "main")
    fine = server.commit({"apps/api.yaml": api(GOOD, "nginx:1.27")}, "api")
    server.ok("origin", "clean")
    server.ok("origin", "clean:main")
    [landed] = [p for p in server.events("push") if p["ref"] == "refs/heads/main" and p["commit"] == fine]
    assert landed["accepted"] is True and landed["commits"] == [fine] and landed["findings"] == []
    forced = server.push("--force", "origin", "feature:main")  # allowed to force-push, not to skip the check
    assert forced.returncode != 0 and f"FAIL apps/api.yaml:1 [commit {bad[:12]}] main.deny" in forced.stderr


def test_a_fast_forward_onto_another_branch_records_its_changes_under_the_ref(server, run_cli):
    first = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    server.ok("origin", "main", user="alice")
    git(server.work, "checkout", "-q", "-b", "feature")
    bump = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.28")}, "bump web")
    added = server.commit({"apps/api.yaml": api(GOOD, "nginx:1.27")}, "add api")
    server.ok("origin", "feature", user="bob")
    server.ok("origin", "feature:main", user="alice")
    with server.log() as log:
        state = queries.state(log, added, ref="main")
        assert [(r.label, r.commit) for r in state.resources] == [("Deployment/shop/api", added), ("Deployment/shop/web", bump)]
        assert state.resources[1].content["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
        history = queries.history(log, "Deployment", "shop", "web")
        assert [(c.ref, c.commit, c.op, c.pusher_name) for c in history] == [
            ("refs/heads/main", first, "created", "alice"),
            ("refs/heads/feature", bump, "modified", "bob"),
            ("refs/heads/main", bump, "modified", "alice"),  # the same commit, landed on main by alice's push
        ]
    assert state_resources(server, "main") == tree_resources(server.git_dir, "main")
    before = server.events()
    replay_post_receive(server, first, added, "refs/heads/main")
    assert run_cli("hook", "record", str(server.git_dir), "--config", str(server.config)).returncode == 0
    assert server.events() == before
    assert server.verify().startswith("audit log verified")


def test_a_force_push_records_the_rewind_so_the_refs_state_is_its_new_tree(tmp_path):
    server = Server(tmp_path, {"allow_protected_force_push": True})
    first = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    server.ok("origin", "main")
    dropped = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.28"), "apps/api.yaml": api(GOOD, "nginx:1.1")}, "bump, api")
    server.ok("origin", "main")
    server.ok("--force", "origin", "HEAD~1:main", user="alice")  # the emergency rollback
    assert state_resources(server, "main") == tree_resources(server.git_dir, first)
    with server.log() as log:
        web = queries.history(log, "Deployment", "shop", "web")
        api_history = queries.history(log, "Deployment", "shop", "api")
    assert [(c.op, c.commit) for c in web] == [("created", first), ("modified", dropped), ("modified", first)]
    rewind = web[-1]
    assert rewind.pusher_name == "alice" and rewind.subject == f"force-push rewind of refs/heads/main from {dropped} to {first}"
    assert rewind.restores is not None and rewind.restores.commit == first  # a rollback
    assert [(c.op, c.commit) for c in api_history] == [("created", dropped), ("deleted", first)]
    # Rewritten: back to the merge base, then the new commit.
    git(server.work, "reset", "-q", "--hard", first)
    rewritten = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.29")}, "bump again")
    git(server.work, "reset", "-q", "--hard", dropped)
    server.ok("origin", "main")  # fast-forward back onto the dropped commit
    git(server.work, "reset", "-q", "--hard", rewritten)
    server.ok("--force", "origin", "main")
    assert state_resources(server, "main") == tree_resources(server.git_dir, rewritten)
    before = server.events()
    replay_post_receive(server, dropped, rewritten, "refs/heads/main")
    assert server.events() == before
    assert server.verify().startswith("audit log verified")


def test_a_merge_records_the_side_branch_once_on_the_ref_and_no_rollback(server):
    first = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    server.ok("origin", "main", user="alice")
    git(server.work, "checkout", "-q", "-b", "feature")
    bump = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.28")}, "bump web")
    server.ok("origin", "feature", user="bob")
    git(server.work, "checkout", "-q", "main")
    git(server.work, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    merge = git(server.work, "rev-parse", "HEAD")
    server.ok("origin", "main", user="alice")
    # A side branch never pushed on its own, merged and pushed with the merge.
    git(server.work, "checkout", "-q", "-b", "side")
    side = server.commit({"apps/api.yaml": api(GOOD, "nginx:1.27")}, "add api")
    git(server.work, "checkout", "-q", "main")
    git(server.work, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    merge_side = git(server.work, "rev-parse", "HEAD")
    server.ok("origin", "main", user="carol")
    with server.log() as log:
        web = queries.history(log, "Deployment", "shop", "web")
        api_history = queries.history(log, "Deployment", "shop", "api")
        rollbacks = queries.changes(log, rollbacks=True)
    # main's step is the merge (its first-parent diff); feature's commit stays feature's.
    assert [(c.ref, c.commit, c.pusher_name) for c in web] == [
        ("refs/heads/main", first, "alice"),
        ("refs/heads/feature", bump, "bob"),
        ("refs/heads/main", merge, "alice"),
    ]
    assert [(c.ref, c.commit) for c in api_history] == [("refs/heads/main", side), ("refs/heads/main", merge_side)]
    assert rollbacks == []  # the merge brings the version the side commit already recorded on main
    assert state_resources(server, "main") == tree_resources(server.git_dir, "main")


def test_a_protected_ref_is_checked_for_its_new_tree_not_only_for_commit_diffs(tmp_path):
    server = Server(tmp_path, {"allow_protected_force_push": True, "overrides": {"allowed": ["alice"]}})
    bad = server.commit({"apps/web.yaml": ROOT.format(image="nginx:1.27")}, "web as root")
    server.ok("-o", "override=INC-1: outage", "origin", "main", user="alice")
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "fix web")
    server.ok("origin", "main")
    # A force push back to the overridden commit brings no commit at all.
    rewind = server.push("--force", "origin", f"{bad}:main", user="mallory")
    assert rewind.returncode != 0
    assert f"FAIL apps/web.yaml:1 [commit {bad[:12]}] main.deny: Deployment/shop/web: Containers must not run as root" in rewind.stderr
    # Nor does a fast-forward whose merge takes the old tree (`merge -s ours`): no commit diff shows it.
    git(server.work, "checkout", "-q", "-b", "sneak", bad)
    server.commit({"apps/readme.yaml": "kind: ConfigMap\napiVersion: v1\nmetadata: {name: readme, namespace: shop}\n"}, "docs")
    git(server.work, "merge", "-q", "-s", "ours", "-m", "merge main", "main")
    sneak = server.push("origin", "sneak:main", user="mallory")
    assert sneak.returncode != 0 and "apps/web.yaml:1" in sneak.stderr and "Containers must not run as root" in sneak.stderr
    assert tree_resources(server.git_dir, "main")[("Deployment", "shop", "web")]["spec"]["template"]["spec"].get("securityContext")


def test_a_force_push_onto_a_commit_deleting_a_file_leaves_it_out_of_the_state(tmp_path):
    server = Server(tmp_path, {"allow_protected_force_push": True})
    first = server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    server.ok("origin", "main")
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.28")}, "bump")
    server.ok("origin", "main")
    git(server.work, "reset", "-q", "--hard", first)
    server.commit({"apps/web.yaml": None, "apps/api.yaml": api(GOOD, "nginx:1.1")}, "remove web")
    server.ok("--force", "origin", "main")  # rewinds web to 1.27 (labelled with the tip), then deletes it
    assert state_resources(server, "main") == tree_resources(server.git_dir, "main")


def test_one_push_moving_two_existing_refs_records_the_change_under_both(server):
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.27")}, "add web")
    server.ok("origin", "main", "main:dev")
    server.commit({"apps/web.yaml": GOOD.format(image="nginx:1.28")}, "bump web")
    server.ok("origin", "main", "main:dev")  # git sends dev first: the commit is new for both
    for ref in ("main", "dev"):
        assert state_resources(server, ref) == tree_resources(server.git_dir, "main"), ref
    before = server.events()
    replay_post_receive(server, *git(server.git_dir, "rev-parse", "main~1", "main").split(), "refs/heads/main")
    assert server.events() == before
