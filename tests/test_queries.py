"""history / changes / show / state: real pushes through the installed hook into a real log, on both backends.

On PostgreSQL the queries index a local SQLite replica of the events, kept under
$XDG_CACHE_HOME/auditsvc/replicas: each story points XDG_CACHE_HOME at a directory of its own.
"""

from __future__ import annotations

import datetime
import json
import re

import pytest
import yaml

from auditsvc import queries
from auditsvc.audit import EventDraft, open_log
from auditsvc.audit.migrate import migrate
from auditsvc.errors import AuditError, ConfigError

from conftest import PgSchema, Server, git

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: {replicas}
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
ROOT_WEB = WEB.replace("      securityContext:\n        runAsNonRoot: true\n", "")
CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: shop
data:
  mode: {mode}
"""
NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    tier: {tier}
"""


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend_db(request, tmp_path_factory):
    """The story's log URL on each backend (None: the server's default SQLite file)."""
    if request.param == "sqlite":
        yield None
        return
    schema = PgSchema()
    keys = tmp_path_factory.mktemp("keys")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield schema.url(keys / "audit.key")
    schema.drop()


@pytest.fixture(scope="module")
def story(tmp_path_factory, backend_db):
    """alice creates, bob changes and renames, carol deletes, mallory is refused, alice overrides,
    dave works on a branch, bob deletes web: one history for every query test of this module."""
    server = Server(tmp_path_factory.mktemp("story"), {"db": backend_db} if backend_db else None)
    c: dict[str, str] = {}
    t: dict[str, datetime.datetime] = {}
    c["create"] = server.commit(
        {
            "apps/web.yaml": WEB.format(replicas=2, image="nginx:1.27"),
            "apps/cfg.yaml": CONFIG.format(name="cfg", mode="a"),
            "cluster/ns.yaml": NAMESPACE.format(tier="gold"),
        },
        "create shop",
    )
    server.ok("origin", "main", user="alice")
    t["after_create"] = now()
    c["bump"] = server.commit({"apps/web.yaml": WEB.format(replicas=3, image="nginx:1.28")}, "bump web", author="Eve Editor <eve@example.com>")
    c["rename"] = server.move("apps/web.yaml", "apps/web-app.yaml", "rename web")
    c["label"] = server.commit({"cluster/ns.yaml": NAMESPACE.format(tier="silver")}, "relabel ns")
    server.ok("origin", "main", user="bob")
    t["after_bob"] = now()
    c["drop_cfg"] = server.commit({"apps/cfg.yaml": None}, "drop cfg")
    server.ok("origin", "main", user="carol")
    c["root"] = server.commit({"apps/web-app.yaml": ROOT_WEB.format(replicas=3, image="nginx:1.28")}, "run as root")
    refused = server.push("origin", "main", user="mallory")
    assert refused.returncode != 0
    server.ok("-o", "override=INC-7: hotfix", "origin", "main", user="alice")
    git(server.work, "checkout", "-q", "-b", "feature")
    c["extra"] = server.commit({"apps/extra.yaml": CONFIG.format(name="extra", mode="b")}, "extra config")
    server.ok("origin", "feature", user="dave")
    git(server.work, "checkout", "-q", "main")
    c["delete_web"] = server.commit({"apps/web-app.yaml": None}, "remove web")
    server.ok("origin", "main", user="bob")
    t["end"] = now()
    return server, c, t


def ops(found):
    return [(ch.op, ch.commit) for ch in found]


def test_history_of_a_resource_across_create_modify_rename_delete(story):
    server, c, _ = story
    with server.log() as log:
        found = queries.history(log, "Deployment", "shop", "web")
    assert ops(found) == [
        ("created", c["create"]),
        ("modified", c["bump"]),
        ("renamed", c["rename"]),
        ("modified", c["root"]),
        ("deleted", c["delete_web"]),
    ]
    assert [ch.pusher["name"] for ch in found] == ["alice", "bob", "bob", "alice", "bob"]
    assert found[1].author == {"name": "Eve Editor", "email": "eve@example.com", "time": found[1].author["time"]}
    assert (found[2].old_path, found[2].path) == ("apps/web.yaml", "apps/web-app.yaml")
    assert {"path": "spec.replicas", "op": "replace", "old": 2, "new": 3} in found[1].diff
    assert all(ch.pushed_at == ch.time and ch.committer["time"] for ch in found)
    times = [ch.time for ch in found]
    assert times == sorted(times)
    # kind is case-insensitive, the apiVersion and repo narrow it
    with server.log() as log:
        assert ops(queries.history(log, "deployment", "shop", "web", api_version="apps/v1", repo="server")) == ops(found)
        assert queries.history(log, "Deployment", "shop", "web", api_version="apps/v1beta1") == []
        assert queries.history(log, "Deployment", "shop", "web", repo="elsewhere") == []


def test_history_of_a_cluster_scoped_resource(story):
    server, c, _ = story
    with server.log() as log:
        found = queries.history(log, "Namespace", "", "shop")
    assert ops(found) == [("created", c["create"]), ("modified", c["label"])]
    assert found[1].diff == [{"path": "metadata.labels.tier", "op": "replace", "old": "gold", "new": "silver"}]
    assert found[1].label == "Namespace/shop"


def test_history_by_path_follows_renames_from_and_to_the_file(story):
    server, c, _ = story
    with server.log() as log:
        before = queries.history_by_path(log, "apps/web.yaml")
        after = queries.history_by_path(log, "./apps/web-app.yaml")
    assert ops(before) == [("created", c["create"]), ("modified", c["bump"]), ("renamed", c["rename"])]
    assert ops(after) == [("renamed", c["rename"]), ("modified", c["root"]), ("deleted", c["delete_web"])]


def test_changes_by_actor_pusher_or_author(story):
    server, c, _ = story
    with server.log() as log:
        by_bob = queries.changes(log, actor="bob")
        by_eve = queries.changes(log, actor="EVE@example.com")
        by_alice = queries.changes(log, actor="Alice")
        by_name = queries.changes(log, actor="eve editor")
    assert {ch.commit for ch in by_bob} == {c["bump"], c["rename"], c["label"], c["delete_web"]}
    assert [ch.commit for ch in by_bob][0] == c["delete_web"]  # newest first
    assert ops(by_eve) == ops(by_name) == [("modified", c["bump"])]
    assert {ch.commit for ch in by_alice} == {c["create"], c["root"]}
    with server.log() as log:
        assert queries.changes(log, actor="mallory") == []  # refused: nothing landed
        assert len(queries.changes(log, actor="bob", limit=2)) == 2


def test_changes_by_kind_namespace_ref(story):
    server, c, _ = story
    with server.log() as log:
        maps = queries.changes(log, kind="ConfigMap")
        cluster = queries.changes(log, namespace="")
        feature = queries.changes(log, ref="feature")
        main = queries.changes(log, ref="refs/heads/main", kind="ConfigMap")
        shop = queries.changes(log, namespace="shop", kind="configmap", repo="server")
    assert ops(maps) == [("created", c["extra"]), ("deleted", c["drop_cfg"]), ("created", c["create"])]
    assert {ch.label for ch in cluster} == {"Namespace/shop"}
    assert ops(feature) == [("created", c["extra"])] and feature[0].ref == "refs/heads/feature"
    assert ops(main) == [("deleted", c["drop_cfg"]), ("created", c["create"])]
    assert ops(shop) == ops(maps)


def test_changes_by_field_exact_prefix_and_any_index(story):
    server, c, _ = story
    with server.log() as log:
        image_any = queries.changes(log, field="spec.template.spec.containers[*].image")
        image_0 = queries.changes(log, field="spec.template.spec.containers[0].image")
        image_1 = queries.changes(log, field="spec.template.spec.containers[1].image")
        replicas = queries.changes(log, field="spec.replicas")
        under_spec = queries.changes(log, field="spec.template.spec")
        labels = queries.changes(log, field="metadata.labels")
        not_prefix = queries.changes(log, field="spec.replica")
        mixed = queries.changes(log, field="spec.template.spec.containers[*].image", actor="bob", kind="Deployment")
    assert ops(image_any) == ops(image_0) == [("modified", c["bump"])]
    assert image_1 == [] and not_prefix == []
    assert ops(replicas) == [("modified", c["bump"])]
    assert ops(under_spec) == [("modified", c["root"]), ("modified", c["bump"])]
    assert ops(labels) == [("modified", c["label"])]
    assert ops(mixed) == [("modified", c["bump"])]


def test_changes_since_and_until(story):
    server, c, t = story
    with server.log() as log:
        everything = queries.changes(log, limit=None)
        assert len(everything) == 10
        assert queries.changes(log, since="1h", limit=None) == everything
        assert queries.changes(log, until="1h") == []
        assert queries.changes(log, since="2d", until="now", limit=None) == everything
        first = queries.changes(log, until=t["after_create"])
        assert {ch.commit for ch in first} == {c["create"]}
        middle = queries.changes(log, since=t["after_create"].isoformat(), until=t["after_bob"].isoformat())
        assert {ch.commit for ch in middle} == {c["bump"], c["rename"], c["label"]}
        assert queries.changes(log, since=t["end"]) == []
        tomorrow = (t["end"] + datetime.timedelta(days=1)).date().isoformat()
        assert queries.changes(log, since=tomorrow) == []
        assert queries.changes(log, until=tomorrow, limit=None) == everything


def test_show_an_accepted_push(story):
    server, c, _ = story
    with server.log() as log:
        record = queries.show(log, c["rename"][:10])
    assert record.commit == c["rename"]
    [push] = record.pushes
    assert push.body["accepted"] is True and push.body["pusher"]["name"] == "bob"
    assert push.commit == c["label"] and c["rename"] in push.body["commits"]  # brought by a push ending later
    assert ops(record.changes) == [("renamed", c["rename"])]
    assert record.overrides == []
    text = queries.render_show(record)
    assert text.startswith(f"commit {c['rename']}\npush ")
    assert "refs/heads/main  accepted  by bob (http)" in text


def test_show_a_rejected_push_and_its_override(story):
    server, c, _ = story
    with server.log() as log:
        record = queries.show(log, c["root"])
    refused, overridden = record.pushes
    assert refused.body["accepted"] is False and refused.body["pusher"]["name"] == "mallory"
    assert {f["rule"] for f in refused.body["findings"]} == {"main.deny"}
    assert overridden.body["accepted"] is True and overridden.body["pusher"]["name"] == "alice"
    [override] = record.overrides
    assert override.body["reason"] == "INC-7: hotfix"
    assert [f["rule"] for f in override.body["overridden"]] == ["main.deny"]
    assert ops(record.changes) == [("modified", c["root"])]  # once: only the accepted push landed
    text = queries.render_show(record)
    assert "REFUSED  by mallory" in text and "FAIL apps/web-app.yaml:1 main.deny" in text
    assert "refs/heads/main  accepted by override  by alice (http)" in text
    assert "override  " in text and "by alice: INC-7: hotfix  (overrode main.deny)" in text


def test_show_unknown_or_ambiguous_commit(story):
    server, _, _ = story
    with server.log() as log:
        with pytest.raises(AuditError, match="nothing is recorded for commit 0000000"):
            queries.show(log, "0000000")
        with pytest.raises(ConfigError, match="not a commit id"):
            queries.show(log, "main")


def manifest_at(server: Server, commit: str, path: str):
    return yaml.safe_load(git(server.work, "show", f"{commit}:{path}"))


def labels(found: queries.State) -> dict[str, queries.Resource]:
    return {f"{r.ref} {r.label}": r for r in found.resources}


def test_state_at_a_time(story):
    server, c, t = story
    with server.log() as log:
        early = labels(queries.state(log, t["after_create"]))
        late = labels(queries.state(log, t["end"].isoformat()))
        before = queries.state(log, "2000-01-01")
    assert sorted(early) == ["refs/heads/main ConfigMap/shop/cfg", "refs/heads/main Deployment/shop/web", "refs/heads/main Namespace/shop"]
    web = early["refs/heads/main Deployment/shop/web"]
    assert (web.commit, web.path) == (c["create"], "apps/web.yaml")
    assert web.content == manifest_at(server, c["create"], "apps/web.yaml")
    # cfg and web were deleted; the feature branch is its own ref
    assert sorted(late) == ["refs/heads/feature ConfigMap/shop/extra", "refs/heads/main Namespace/shop"]
    assert late["refs/heads/main Namespace/shop"].content["metadata"]["labels"] == {"tier": "silver"}
    assert before.resources == []


def test_state_at_a_commit_equals_the_manifests_at_that_commit(story):
    server, c, _ = story
    with server.log() as log:
        at_bump = queries.state(log, c["bump"], ref="main")
        at_drop = queries.state(log, c["drop_cfg"][:8], ref="main", repo="server")
        feature = queries.state(log, c["extra"], ref="refs/heads/feature")
    # bump was pushed together with rename and relabel: the state stops at bump's own changes
    found = labels(at_bump)
    assert found["refs/heads/main Deployment/shop/web"].path == "apps/web.yaml"
    assert found["refs/heads/main Deployment/shop/web"].content == manifest_at(server, c["bump"], "apps/web.yaml")
    assert found["refs/heads/main Namespace/shop"].content == manifest_at(server, c["bump"], "cluster/ns.yaml")
    assert at_bump.commit == c["bump"]
    found = labels(at_drop)
    assert "refs/heads/main ConfigMap/shop/cfg" not in found  # deleted at that commit
    assert found["refs/heads/main Deployment/shop/web"].content == manifest_at(server, c["drop_cfg"], "apps/web-app.yaml")
    assert [r.label for r in feature.resources] == ["ConfigMap/shop/extra"]
    with server.log() as log:
        with pytest.raises(AuditError, match="nothing is recorded for commit abcdef1"):
            queries.state(log, "abcdef1")


def test_index_is_incremental_and_rebuildable(story, log_store):
    server, _, _ = story
    with server.log() as log:
        queries.refresh_index(log)
        assert queries.refresh_index(log) == 0  # nothing new
        with open_log(log_store.url) as copy:  # a copy to change, on the story's backend or the other
            migrate(log, copy)
            before = [ch.to_dict() for ch in queries.changes(copy, limit=None)]
            body = dict(copy.get(before[0]["seq"]).body, path="apps/other.yaml")
            copy.append([EventDraft("change", "change:test:one", "server", "refs/heads/main", "f" * 40, body)])
            assert queries.refresh_index(copy) == 1
            after = queries.changes(copy, limit=None)
            assert after[0].commit == "f" * 40 and [ch.to_dict() for ch in after[1:]] == before
            assert queries.rebuild_index(copy) == copy.size()
            assert [ch.to_dict() for ch in queries.changes(copy, limit=None)] == [ch.to_dict() for ch in after]
            assert copy.verify().ok  # the derived tables are not part of the tamper-evident log


def test_parse_time():
    fixed = datetime.datetime(2026, 1, 31, 12, 0, tzinfo=datetime.timezone.utc)
    assert queries.parse_time("7d", now=fixed) == fixed - datetime.timedelta(days=7)
    assert queries.parse_time("12h", now=fixed) == fixed - datetime.timedelta(hours=12)
    assert queries.parse_time("30m", now=fixed) == fixed - datetime.timedelta(minutes=30)
    assert queries.parse_time("2w", now=fixed) == fixed - datetime.timedelta(weeks=2)
    assert queries.parse_time("2026-01-31") == datetime.datetime(2026, 1, 31, tzinfo=datetime.timezone.utc)
    assert queries.parse_time("2026-01-31T14:00:00+02:00") == fixed
    assert queries.parse_time("2026-01-31T12:00:00Z") == fixed
    assert queries.parse_time("2026-01-31T12:00:00") == fixed  # no offset: UTC
    assert queries.format_time(queries.parse_time("2026-01-31T13:00:00.5+01:00")) == "2026-01-31T12:00:00Z"
    for bad in ("yesterday", "7 days", "2026-13-01", ""):
        with pytest.raises(ConfigError, match="cannot read the time"):
            queries.parse_time(bad)


LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  [0-9a-f]{8}  \S+ \((pushed by \S+|imported)\)  "
    r"(created|modified|renamed|deleted)  \S+  \S+( -> \S+)?(  .+)?$"
)


def test_cli_text_and_json(story, run_cli):
    server, c, _ = story
    db = ["--db", server.url]
    text = run_cli("history", "Deployment/shop/web", *db)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert len(lines) == 5 and all(LINE.match(line) for line in lines), lines
    assert lines[1].endswith(
        f"{c['bump'][:8]}  eve@example.com (pushed by bob)  modified  Deployment/shop/web  apps/web.yaml  "
        "spec.replicas: 2 -> 3; spec.template.spec.containers[0].image: nginx:1.27 -> nginx:1.28"
    )
    assert "renamed  Deployment/shop/web  apps/web.yaml -> apps/web-app.yaml" in lines[2]
    as_json = json.loads(run_cli("history", "Deployment/shop/web", *db, "-o", "json").stdout)
    assert [e["op"] for e in as_json] == ["created", "modified", "renamed", "modified", "deleted"]
    assert as_json[0]["pusher"]["name"] == "alice" and as_json[0]["commit"] == c["create"]
    assert as_json[0]["time"].endswith("Z") and as_json[0]["committed_at"].endswith("Z")
    cluster = run_cli("history", "Namespace/shop", *db)
    assert cluster.returncode == 0 and len(cluster.stdout.splitlines()) == 2
    by_path = run_cli("history", "--path", "apps/web.yaml", *db, "-o", "json")
    assert [e["op"] for e in json.loads(by_path.stdout)] == ["created", "modified", "renamed"]
    field = run_cli("changes", "--actor", "bob", "--field", "spec.template.spec.containers[*].image", "--since", "1d", *db)
    assert field.returncode == 0 and len(field.stdout.splitlines()) == 1 and c["bump"][:8] in field.stdout
    limited = json.loads(run_cli("changes", "--limit", "3", "--ref", "main", *db, "-o", "json").stdout)
    assert [e["commit"] for e in limited][0] == c["delete_web"] and len(limited) == 3
    none = run_cli("changes", "--actor", "nobody", *db)
    assert (none.returncode, none.stdout) == (0, "no matching changes\n")
    shown = run_cli("show", c["root"][:12], *db)
    assert shown.returncode == 0 and "REFUSED  by mallory" in shown.stdout and "INC-7: hotfix" in shown.stdout
    shown_json = json.loads(run_cli("show", c["root"], *db, "-o", "json").stdout)
    assert [p["body"]["accepted"] for p in shown_json["pushes"]] == [False, True]
    assert shown_json["overrides"][0]["body"]["reason"] == "INC-7: hotfix"
    state = run_cli("state", "--at", c["drop_cfg"], "--ref", "main", *db)
    assert state.returncode == 0, state.stderr
    lines = state.stdout.splitlines()
    assert lines[0].startswith(f"state at commit {c['drop_cfg'][:12]} (") and lines[0].endswith("): 2 resources")
    assert lines[1].startswith(f"server  refs/heads/main  Deployment/shop/web  apps/web-app.yaml  {c['rename'][:8]}  ")
    assert lines[2].startswith(f"server  refs/heads/main  Namespace/shop  cluster/ns.yaml  {c['label'][:8]}  ")
    assert "Namespace/shop  cluster/ns.yaml" in state.stdout
    state_json = json.loads(run_cli("state", "--at", "now", "--ref", "feature", *db, "-o", "json").stdout)
    assert [r["content"]["data"] for r in state_json["resources"]] == [{"mode": "b"}]


def test_cli_errors_are_one_line(story, run_cli, tmp_path):
    server, _, _ = story
    db = ["--db", server.url]
    for args, message in [
        (("history", "Deployment/shop/web", "--db", f"sqlite:///{tmp_path}/none.db"), "no audit log at"),
        (("history", "Deployment", *db), "cannot read the resource 'Deployment'"),
        (("history", *db), "give either KIND/NAMESPACE/NAME"),
        (("history", "Deployment/shop/web", "--path", "x.yaml", *db), "give either"),
        (("changes", "--since", "last tuesday", *db), "cannot read the time 'last tuesday'"),
        (("changes", "--limit", "0", *db), "--limit"),
        (("show", "deadbeef", *db), "nothing is recorded for commit deadbeef"),
        (("show", "HEAD", *db), "'HEAD' is not a commit id"),
        (("state", "--at", "soon", *db), "cannot read the time 'soon'"),
        (("state", *db), "Missing option '--at'"),
    ]:
        proc = run_cli(*args)
        assert proc.returncode == 3, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_rollbacks_are_recorded_and_queried(tmp_path, run_cli, log_store):
    """bob's bump is reverted by carol (git revert); a rename without edits restores nothing;
    a deleted ConfigMap created again as it was restores its earlier version."""
    server = Server(tmp_path, {"db": log_store.url})
    create = server.commit(
        {"apps/web.yaml": WEB.format(replicas=2, image="nginx:1.27"), "apps/cfg.yaml": CONFIG.format(name="cfg", mode="a")},
        "create",
    )
    server.ok("origin", "main", user="alice")
    bump = server.commit({"apps/web.yaml": WEB.format(replicas=2, image="nginx:1.28")}, "bump")
    server.ok("origin", "main", user="bob")
    git(server.work, "revert", "--no-edit", bump)
    revert = git(server.work, "rev-parse", "HEAD")
    server.move("apps/web.yaml", "apps/web-app.yaml", "rename only")
    server.ok("origin", "main", user="carol")
    drop = server.commit({"apps/cfg.yaml": None}, "drop cfg")
    again = server.commit({"apps/cfg.yaml": CONFIG.format(name="cfg", mode="a")}, "cfg back")
    server.ok("origin", "main", user="dave")

    with server.log() as log:
        web = queries.history(log, "Deployment", "shop", "web")
        assert [(ch.op, ch.commit) for ch in web] == [("created", create), ("modified", bump), ("modified", revert), ("renamed", web[3].commit)]
        created, bumped, reverted, renamed = web
        assert reverted.restores == created and reverted.restores.commit == create
        assert bumped.rolled_back_by == reverted
        assert bumped.to_dict()["rolled_back_by"] == {"seq": reverted.seq, "commit": revert, "time": reverted.time, "op": "modified", "actor": reverted.actor}
        assert reverted.to_dict()["restores"]["commit"] == create
        assert created.rolled_back_by is None and renamed.restores is None and renamed.rolled_back_by is None
        assert "pushed by carol" in bumped.rolled_back_by.actor

        cfg = queries.history(log, "ConfigMap", "shop", "cfg")
        assert [(ch.op, ch.commit) for ch in cfg] == [("created", create), ("deleted", drop), ("created", again)]
        assert cfg[2].restores == cfg[0] and cfg[1].rolled_back_by == cfg[2]
        assert cfg[0].rolled_back_by is None  # its own version is what came back

        assert [ch.commit for ch in queries.changes(log, rollbacks=True)] == [again, revert]
        assert [ch.commit for ch in queries.changes(log, rollbacks=True, actor="carol")] == [revert]

    shown = run_cli("history", "Deployment/shop/web", "--db", server.url)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert f"[rolled back by {revert[:8]} at " in lines[1] and "pushed by carol" in lines[1]
    assert f"[rollback to {create[:8]} of " in lines[2]
    listed = run_cli("changes", "--rollbacks", "-o", "json", "--db", server.url)
    assert [c["restores"]["commit"] for c in json.loads(listed.stdout)] == [create, create]
