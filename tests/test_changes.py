"""git -> Changeset, against real repositories.

A push is simulated the way pre-receive sees it: the pushed objects are in the server's
object store, its refs have not moved yet. `Server.push` stages the objects, builds the
Changeset, then moves the refs. One test runs a real pre-receive hook (quarantine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditsvc.changes import (
    build_changeset,
    commit_infos,
    file_changes,
    is_fast_forward,
    landings,
    peel,
    resource_changes,
)
from auditsvc.manifests import Limits
from auditsvc.model import Changeset, FieldChange, RefUpdate, ResourceKey

from conftest import ROOT, clean_env, commit, git

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: team
spec:
  replicas: {replicas}
  template:
    spec:
      containers:
        - name: main
          image: {image}
"""


def deploy(name: str = "web", replicas: int = 1, image: str = "nginx:1.25") -> str:
    return DEPLOY.format(name=name, replicas=replicas, image=image)


def cm(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: {value!r}\n"


def deployment(name: str = "web") -> ResourceKey:
    return ResourceKey("apps/v1", "Deployment", "team", name)


def configmap(name: str) -> ResourceKey:
    return ResourceKey("v1", "ConfigMap", "", name)


class Server:
    """A bare repository receiving pushes; refs move only after the Changeset is built."""

    def __init__(self, path: Path, *init: str) -> None:
        self.path = path
        git(path.parent, "init", "-q", "--bare", *init, path.name)

    @property
    def repo(self) -> str:
        return str(self.path)

    def ref(self, name: str) -> str | None:
        out = subprocess.run(
            ["git", "-C", self.repo, "rev-parse", "-q", "--verify", name], capture_output=True, text=True, env=clean_env()
        )
        return out.stdout.strip() or None

    def stage(self, work: Path) -> None:
        """Copy every object of `work` in, as receive-pack does, without moving any ref."""
        git(self.path, "fetch", "-q", "--no-tags", str(work), "+refs/*:refs/staged/*")
        staged = git(self.path, "for-each-ref", "--format=delete %(refname)", "refs/staged/")
        git(self.path, "update-ref", "--stdin", input=staged + "\n")

    def updates(self, work: Path, *refs: str, delete: tuple[str, ...] = ()) -> list[RefUpdate]:
        zero = "0" * len(git(work, "rev-parse", "HEAD"))
        result = [RefUpdate(self.ref(r) or zero, git(work, "rev-parse", r), r) for r in refs]
        return result + [RefUpdate(self.ref(r) or zero, zero, r) for r in delete]

    def push(self, work: Path, *refs: str, delete: tuple[str, ...] = (), limits: Limits = Limits()) -> Changeset:
        updates = self.updates(work, *refs, delete=delete)
        self.stage(work)
        changeset = build_changeset(self.repo, updates, limits)
        for u in updates:
            if u.is_delete:
                git(self.path, "update-ref", "-d", u.ref)
            else:
                git(self.path, "update-ref", u.ref, u.new)
        return changeset


@pytest.fixture
def server(tmp_path: Path) -> Server:
    return Server(tmp_path / "server.git")


def summary(changeset: Changeset) -> list[tuple[str, str, str]]:
    return [(c.op, c.path, str(c.key)) for c in changeset.changes]


def subjects(changeset: Changeset) -> list[str]:
    return [c.subject for c in changeset.commits]


# --- the nouns -------------------------------------------------------------------------------


def test_ref_update_zero_ids_follow_the_hash_length() -> None:
    sha1, sha256 = "a" * 40, "b" * 64
    assert RefUpdate("0" * 40, sha1, "refs/heads/main").is_create
    assert RefUpdate(sha1, "0" * 40, "refs/heads/main").is_delete
    assert RefUpdate("0" * 64, sha256, "refs/tags/v1").is_create
    update = RefUpdate.parse(f"{sha256} {'0' * 64} refs/tags/v1\n")
    assert update.is_delete and update.is_tag and not update.is_create and update.zero == "0" * 64
    assert not RefUpdate(sha1, sha1, "refs/heads/main").is_tag


def forced_of(changeset: Changeset) -> dict[str, bool]:
    """ref -> its update is not a fast-forward."""
    return {landing.ref: landing.forced for landing in changeset.landings}


# --- new commits -----------------------------------------------------------------------------


def test_first_push_of_a_branch_brings_every_commit_oldest_first(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"apps/web.yaml": deploy()}, "add web")
    commit(work_repo, {"apps/web.yaml": deploy(replicas=2)}, "scale web")
    commit(work_repo, {"README.md": "hello\n"}, "docs")
    changeset = server.push(work_repo, "refs/heads/main")
    assert subjects(changeset) == ["add web", "scale web", "docs"]
    assert [c.id for c in changeset.commits] == git(work_repo, "rev-list", "--reverse", "HEAD").split()
    assert summary(changeset) == [("created", "apps/web.yaml", "Deployment/team/web"),
                                  ("modified", "apps/web.yaml", "Deployment/team/web")]
    created, modified = changeset.changes
    assert created.before is None and created.after["spec"]["replicas"] == 1 and created.diff == ()
    assert modified.diff == (FieldChange("spec.replicas", 1, 2),)
    assert modified.commit == changeset.commits[1].id
    assert forced_of(changeset) == {"refs/heads/main": False}


def test_second_push_brings_only_the_new_commits(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"web.yaml": deploy()}, "one")
    server.push(work_repo, "refs/heads/main")
    commit(work_repo, {"web.yaml": deploy(image="nginx:1.26")}, "two")
    commit(work_repo, {"web.yaml": deploy(image="nginx:1.27")}, "three")
    changeset = server.push(work_repo, "refs/heads/main")
    assert subjects(changeset) == ["two", "three"]
    assert [c.diff for c in changeset.changes] == [
        (FieldChange("spec.template.spec.containers[0].image", "nginx:1.25", "nginx:1.26"),),
        (FieldChange("spec.template.spec.containers[0].image", "nginx:1.26", "nginx:1.27"),),
    ]
    assert forced_of(changeset) == {"refs/heads/main": False}


def test_two_branches_sharing_commits_count_them_once(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"a.yaml": cm("a", "1")}, "base")
    server.push(work_repo, "refs/heads/main")
    commit(work_repo, {"a.yaml": cm("a", "2")}, "shared")
    git(work_repo, "branch", "feature")
    commit(work_repo, {"a.yaml": cm("a", "3")}, "main only")
    git(work_repo, "checkout", "-q", "feature")
    commit(work_repo, {"b.yaml": cm("b", "1")}, "feature only")
    changeset = server.push(work_repo, "refs/heads/main", "refs/heads/feature")
    assert sorted(subjects(changeset)) == ["feature only", "main only", "shared"]
    assert subjects(changeset)[0] == "shared"  # topological: the shared parent first
    assert len(changeset.changes) == 3
    assert forced_of(changeset) == {"refs/heads/main": False, "refs/heads/feature": False}


def test_branch_created_at_an_existing_commit_brings_nothing(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"a.yaml": cm("a", "1")}, "base")
    server.push(work_repo, "refs/heads/main")
    git(work_repo, "branch", "release/1")
    changeset = server.push(work_repo, "refs/heads/release/1")
    assert changeset.commits == () and changeset.changes == ()
    assert changeset.updates[0].is_create and forced_of(changeset) == {"refs/heads/release/1": False}


def test_landings_bring_known_commits_to_a_ref_and_name_a_rewind(work_repo: Path, server: Server) -> None:
    base = commit(work_repo, {"a.yaml": cm("a", "1")}, "base")
    server.push(work_repo, "refs/heads/main")
    git(work_repo, "checkout", "-q", "-b", "feature")
    topic = commit(work_repo, {"a.yaml": cm("a", "2")}, "topic")
    server.push(work_repo, "refs/heads/feature")
    git(work_repo, "branch", "-f", "main", "feature")
    git(work_repo, "branch", "release/1")
    git(work_repo, "branch", "scratch")
    updates = server.updates(work_repo, "refs/heads/main", "refs/heads/release/1", "refs/heads/scratch")
    main, release, scratch = landings(server.repo, updates, ["refs/heads/main", "refs/heads/release/*"])
    assert (main.commits, main.known, main.forced, main.rewinds) == ((topic,), (topic,), False, False)
    assert release.commits == (topic,)  # a protected ref created at a warn-only branch's commit
    assert scratch.commits == ()  # a warn-only ref created where another ref already is
    server.push(work_repo, "refs/heads/main")
    git(work_repo, "branch", "-f", "main", base)
    [rewind] = landings(server.repo, server.updates(work_repo, "refs/heads/main"))
    assert (rewind.commits, rewind.forced, rewind.old, rewind.new, rewind.base) == ((), True, topic, base, base)


def test_delete_brings_nothing(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"a.yaml": cm("a", "1")}, "base")
    git(work_repo, "branch", "old")
    server.push(work_repo, "refs/heads/main", "refs/heads/old")
    changeset = server.push(work_repo, delete=("refs/heads/old",))
    assert changeset.commits == () and changeset.changes == ()
    assert changeset.updates[0].is_delete and forced_of(changeset) == {"refs/heads/old": False}
    assert changeset.landings[0].commits == ()
    assert server.ref("refs/heads/old") is None


def test_annotated_tag_of_a_new_commit_is_peeled(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"a.yaml": cm("a", "1")}, "base")
    server.push(work_repo, "refs/heads/main")
    tip = commit(work_repo, {"a.yaml": cm("a", "2")}, "release")
    git(work_repo, "tag", "-a", "-m", "v1", "v1")
    tag_id = git(work_repo, "rev-parse", "refs/tags/v1")
    assert tag_id != tip
    updates = server.updates(work_repo, "refs/tags/v1")
    server.stage(work_repo)
    assert peel(server.repo, [tag_id, tip, "0" * 40, "f" * 40]) == {tag_id: tip, tip: tip, "0" * 40: None, "f" * 40: None}
    assert [landing.commits for landing in landings(server.repo, updates)] == [(tip,)]
    changeset = server.push(work_repo, "refs/tags/v1")
    assert changeset.updates[0].is_tag and subjects(changeset) == ["release"]
    assert summary(changeset) == [("modified", "a.yaml", "ConfigMap/a")]


def test_lightweight_tag_of_a_new_commit(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"a.yaml": cm("a", "1")}, "base")
    server.push(work_repo, "refs/heads/main")
    commit(work_repo, {"a.yaml": cm("a", "2")}, "tagged only")
    git(work_repo, "tag", "v2")
    git(work_repo, "reset", "-q", "--hard", "HEAD~1")
    changeset = server.push(work_repo, "refs/tags/v2")
    assert subjects(changeset) == ["tagged only"]
    assert summary(changeset) == [("modified", "a.yaml", "ConfigMap/a")]


def test_tag_of_a_tree_is_no_commit(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"a.yaml": cm("a", "1")}, "base")
    server.push(work_repo, "refs/heads/main")
    tree = git(work_repo, "rev-parse", "HEAD^{tree}")
    git(work_repo, "tag", "-a", "-m", "a tree", "tree-tag", tree)
    changeset = server.push(work_repo, "refs/tags/tree-tag")
    assert changeset.commits == () and forced_of(changeset) == {"refs/tags/tree-tag": False}


def test_force_push_is_not_a_fast_forward(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"a.yaml": cm("a", "1")}, "base")
    dropped = commit(work_repo, {"a.yaml": cm("a", "2")}, "to be dropped")
    server.push(work_repo, "refs/heads/main")
    git(work_repo, "reset", "-q", "--hard", "HEAD~1")
    rewritten = commit(work_repo, {"a.yaml": cm("a", "3")}, "rewritten")
    changeset = server.push(work_repo, "refs/heads/main")
    assert not is_fast_forward(server.repo, dropped, rewritten)
    assert is_fast_forward(server.repo, git(work_repo, "rev-parse", "HEAD~1"), dropped)
    assert is_fast_forward(server.repo, "0" * 40, rewritten) and is_fast_forward(server.repo, dropped, "0" * 40)
    assert forced_of(changeset) == {"refs/heads/main": True}
    assert subjects(changeset) == ["rewritten"]  # the dropped commit is not re-checked
    (change,) = changeset.changes
    assert change.diff == (FieldChange("data.v", "1", "3"),)  # against the new commit's parent


def test_moving_an_annotated_tag_forward_and_back(work_repo: Path, server: Server) -> None:
    first = commit(work_repo, {"a.yaml": cm("a", "1")}, "one")
    git(work_repo, "tag", "-a", "-m", "t", "t")
    server.push(work_repo, "refs/heads/main", "refs/tags/t")
    commit(work_repo, {"a.yaml": cm("a", "2")}, "two")
    git(work_repo, "tag", "-f", "-a", "-m", "t", "t")
    assert forced_of(server.push(work_repo, "refs/heads/main", "refs/tags/t")) == {"refs/heads/main": False, "refs/tags/t": False}
    git(work_repo, "tag", "-f", "-a", "-m", "t", "t", first)
    assert forced_of(server.push(work_repo, "refs/tags/t")) == {"refs/tags/t": True}


def test_unknown_object_is_a_git_error(work_repo: Path, server: Server) -> None:
    from auditsvc.errors import GitError

    commit(work_repo, {"a.yaml": cm("a", "1")}, "base")
    server.push(work_repo, "refs/heads/main")
    with pytest.raises(GitError):
        is_fast_forward(server.repo, server.ref("refs/heads/main") or "", "e" * 40)


# --- commits ---------------------------------------------------------------------------------


def test_commit_infos_are_in_the_order_asked_with_utc_times(work_repo: Path) -> None:
    env = clean_env(
        GIT_AUTHOR_NAME="Zoë Ünicode",
        GIT_AUTHOR_DATE="2024-03-01T10:00:00+02:00",
        GIT_COMMITTER_DATE="2024-03-02T23:30:00-05:00",
    )
    (work_repo / "a.yaml").write_text(cm("a", "1"))
    git(work_repo, "add", "a.yaml")
    subprocess.run(["git", "-C", str(work_repo), "commit", "-q", "-m", "first: with a colon\n\nbody"], check=True, env=env)
    first = git(work_repo, "rev-parse", "HEAD")
    second = commit(work_repo, {"b.yaml": cm("b", "1")}, "second")
    (info2, info1) = commit_infos(str(work_repo), [second, first])
    assert (info1.id, info1.parents, info2.parents) == (first, (), (first,))
    assert (info1.author_name, info1.author_email) == ("Zoë Ünicode", "ada@example.com")
    assert (info1.committer_name, info1.committer_email) == ("Carl Committer", "carl@example.com")
    assert info1.author_time == "2024-03-01T08:00:00Z"
    assert info1.committer_time == "2024-03-03T04:30:00Z"
    assert info1.subject == "first: with a colon"
    assert info1.signature.status == "N" and not info1.signature.signed
    assert info2.author_time.endswith("Z")
    assert commit_infos(str(work_repo), []) == []


def test_mailmap_does_not_rewrite_the_recorded_claims(work_repo: Path) -> None:
    commit(work_repo, {".mailmap": "Someone Else <else@example.com> <ada@example.com>\n"}, "mailmap")
    (info,) = commit_infos(str(work_repo), [git(work_repo, "rev-parse", "HEAD")])
    assert (info.author_name, info.author_email) == ("Ada Author", "ada@example.com")


# --- files and resources ---------------------------------------------------------------------


def test_merge_is_diffed_against_its_first_parent(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"a.yaml": cm("a", "1")}, "base")
    server.push(work_repo, "refs/heads/main")
    git(work_repo, "checkout", "-q", "-b", "feature")
    commit(work_repo, {"b.yaml": cm("b", "1")}, "feature adds b")
    commit(work_repo, {"a.yaml": cm("a", "2")}, "feature changes a")
    git(work_repo, "checkout", "-q", "main")
    commit(work_repo, {"c.yaml": cm("c", "1")}, "main adds c")
    git(work_repo, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    changeset = server.push(work_repo, "refs/heads/main")
    assert subjects(changeset)[-1] == "merge feature" and len(changeset.commits) == 4
    merge = changeset.commits[-1]
    assert len(merge.parents) == 2
    merged = [(c.op, c.path) for c in changeset.changes if c.commit == merge.id]
    assert sorted(merged) == [("created", "b.yaml"), ("modified", "a.yaml")]  # what the merge brought to main
    assert len(changeset.changes) == 5  # b, a in feature; c on main; b, a again in the merge


def test_pure_rename_and_rename_with_modification(work_repo: Path, server: Server) -> None:
    body = deploy() + "".join(f"# padding line {i} to keep the similarity high\n" for i in range(30))
    commit(work_repo, {"old/web.yaml": body, "old/db.yaml": deploy("db") + "# pad\n" * 30}, "base")
    server.push(work_repo, "refs/heads/main")
    (work_repo / "new").mkdir()
    git(work_repo, "mv", "old/web.yaml", "new/web.yaml")
    git(work_repo, "commit", "-q", "-m", "move web")
    git(work_repo, "mv", "old/db.yaml", "new/db.yaml")
    commit(work_repo, {"new/db.yaml": deploy("db", replicas=5) + "# pad\n" * 30}, "move and scale db")
    changeset = server.push(work_repo, "refs/heads/main")
    moved, moved_scaled = changeset.changes
    assert (moved.op, moved.path, moved.old_path, moved.key, moved.diff) == (
        "renamed", "new/web.yaml", "old/web.yaml", deployment("web"), ())
    assert moved.before == moved.after
    assert (moved_scaled.op, moved_scaled.path, moved_scaled.old_path) == ("renamed", "new/db.yaml", "old/db.yaml")
    assert moved_scaled.diff == (FieldChange("spec.replicas", 1, 5),)


def test_rename_to_and_from_non_manifest_names(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"a.yaml": cm("a", "1") + "# pad\n" * 20, "b.txt": cm("b", "1") + "# pad\n" * 20}, "base")
    server.push(work_repo, "refs/heads/main")
    git(work_repo, "mv", "a.yaml", "a.yaml.disabled")
    git(work_repo, "mv", "b.txt", "b.yaml")
    git(work_repo, "commit", "-q", "-m", "swap")
    changeset = server.push(work_repo, "refs/heads/main")
    assert sorted(summary(changeset)) == [("created", "b.yaml", "ConfigMap/b"), ("deleted", "a.yaml", "ConfigMap/a")]


def test_multi_document_file_where_one_document_changes(work_repo: Path, server: Server) -> None:
    docs = [cm("one", "1"), cm("two", "2"), cm("three", "3")]
    commit(work_repo, {"all.yaml": "---\n".join(docs)}, "base")
    server.push(work_repo, "refs/heads/main")
    docs[1] = cm("two", "22")
    commit(work_repo, {"all.yaml": "---\n".join(docs)}, "change two")
    (change,) = server.push(work_repo, "refs/heads/main").changes
    assert (change.op, change.key, change.diff) == ("modified", configmap("two"), (FieldChange("data.v", "2", "22"),))
    # Reordering documents is no change; removing one is a delete; adding one a create.
    commit(work_repo, {"all.yaml": "---\n".join([docs[2], docs[0], cm("four", "4")])}, "reorder, drop two, add four")
    assert summary(server.push(work_repo, "refs/heads/main")) == [
        ("created", "all.yaml", "ConfigMap/four"),
        ("deleted", "all.yaml", "ConfigMap/two"),
    ]


def test_list_documents_are_matched_item_by_item(work_repo: Path, server: Server) -> None:
    def as_list(*items: dict) -> str:
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(items)}, indent=1)

    a = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"v": "1"}}
    b = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"v": "1"}}
    commit(work_repo, {"list.json": as_list(a, b)}, "base")
    assert summary(server.push(work_repo, "refs/heads/main")) == [
        ("created", "list.json", "ConfigMap/a"),
        ("created", "list.json", "ConfigMap/b"),
    ]
    b2 = {**b, "data": {"v": "2"}}
    commit(work_repo, {"list.json": as_list(b2, a)}, "reorder and change b")
    (change,) = server.push(work_repo, "refs/heads/main").changes
    assert (change.op, change.key, change.diff) == ("modified", configmap("b"), (FieldChange("data.v", "1", "2"),))


def test_documents_without_kind_or_name_are_matched_by_position(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"values.yml": "a: 1\n---\nb: 1\n---\nkind: ConfigMap\nmetadata: {name: x}\n"}, "base")
    server.push(work_repo, "refs/heads/main")
    commit(work_repo, {"values.yml": "kind: ConfigMap\nmetadata: {name: x}\n---\na: 1\n---\nb: 2\n"}, "change b")
    (change,) = server.push(work_repo, "refs/heads/main").changes
    assert (change.op, change.key, change.diff) == ("modified", ResourceKey("", "", "", ""), (FieldChange("b", 1, 2),))


def test_deleted_manifest_deletes_each_resource(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"gone.yaml": cm("a", "1") + "---\n" + cm("b", "1"), "kept.yaml": cm("c", "1")}, "base")
    server.push(work_repo, "refs/heads/main")
    commit(work_repo, {"gone.yaml": None}, "delete")
    changeset = server.push(work_repo, "refs/heads/main")
    assert summary(changeset) == [("deleted", "gone.yaml", "ConfigMap/a"), ("deleted", "gone.yaml", "ConfigMap/b")]
    assert all(c.after is None and c.before["kind"] == "ConfigMap" for c in changeset.changes)


def test_non_manifest_files_symlinks_and_submodules_are_ignored(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"README.md": "x\n", "notes.txt": cm("n", "1"), "real.yaml": cm("r", "1")}, "base")
    os.symlink("real.yaml", work_repo / "link.yaml")
    git(work_repo, "add", "link.yaml")
    sub = git(work_repo, "rev-parse", "HEAD")
    git(work_repo, "update-index", "--add", "--cacheinfo", f"160000,{sub},vendor.yaml")
    git(work_repo, "commit", "-q", "-m", "link and submodule")
    changeset = server.push(work_repo, "refs/heads/main")
    assert summary(changeset) == [("created", "real.yaml", "ConfigMap/r")]
    ids = [c.id for c in changeset.commits]
    assert [f.path for f in file_changes(server.repo, ids)] == ["real.yaml"]


def test_invalid_yaml_gives_no_change_and_no_crash(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"a.yaml": cm("a", "1"), "b.yaml": cm("b", "1")}, "base")
    server.push(work_repo, "refs/heads/main")
    commit(work_repo, {"a.yaml": "kind: ConfigMap\nmetadata: {name: a\n", "b.yaml": cm("b", "2")}, "break a")
    commit(work_repo, {"a.yaml": "\0binary\0", "bad.json": "{not json"}, "worse")
    commit(work_repo, {"a.yaml": cm("a", "3")}, "fix a")
    changeset = server.push(work_repo, "refs/heads/main")
    assert len(changeset.commits) == 3
    assert summary(changeset) == [("modified", "b.yaml", "ConfigMap/b")]


def test_files_over_the_size_limit_are_not_read(work_repo: Path, server: Server) -> None:
    commit(work_repo, {"big.yaml": cm("big", "x" * 5000), "small.yaml": cm("s", "1")}, "base")
    changeset = server.push(work_repo, "refs/heads/main", limits=Limits(max_file_bytes=1000))
    assert summary(changeset) == [("created", "small.yaml", "ConfigMap/s")]


def test_resource_changes_of_unrelated_commit_lists(work_repo: Path) -> None:
    first = commit(work_repo, {"a.yaml": cm("a", "1")}, "one")
    second = commit(work_repo, {"a.yaml": cm("a", "2")}, "two")
    repo = str(work_repo)
    assert [c.op for c in resource_changes(repo, [first, second])] == ["created", "modified"]
    assert [c.op for c in resource_changes(repo, [second])] == ["modified"]
    assert resource_changes(repo, []) == [] and file_changes(repo, []) == []


def test_sha256_repository(tmp_path: Path) -> None:
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "--object-format=sha256", "-b", "main", str(work))
    server = Server(tmp_path / "server.git", "--object-format=sha256")
    commit(work, {"a.yaml": cm("a", "1")}, "one")
    first = server.push(work, "refs/heads/main")
    assert len(first.updates[0].old) == 64 and first.updates[0].is_create
    commit(work, {"a.yaml": cm("a", "2")}, "two")
    git(work, "tag", "-a", "-m", "v1", "v1")
    second = server.push(work, "refs/heads/main", "refs/tags/v1")
    assert subjects(second) == ["two"] and len(second.commits[0].id) == 64
    assert second.changes[0].diff == (FieldChange("data.v", "1", "2"),)
    assert forced_of(second) == {"refs/heads/main": False, "refs/tags/v1": False}
    assert server.push(work, delete=("refs/tags/v1",)).updates[0].is_delete


# --- a real pre-receive hook (quarantine) ----------------------------------------------------

HOOK = """\
#!{python}
import json, os, sys
sys.path.insert(0, {root!r})
from auditsvc.changes import build_changeset
from auditsvc.model import RefUpdate
updates = [RefUpdate.parse(line) for line in sys.stdin if line.strip()]
cs = build_changeset(os.getcwd(), updates)
with open({out!r}, "w") as handle:
    json.dump({{"quarantine": bool(os.environ.get("GIT_QUARANTINE_PATH")),
               "commits": [c.subject for c in cs.commits],
               "changes": [[c.op, c.path, str(c.key)] for c in cs.changes],
               "forced": {{landing.ref: landing.forced for landing in cs.landings}}}}, handle)
sys.exit(1 if os.path.exists({out!r} + ".reject") else 0)
"""


def test_inside_a_real_pre_receive_hook(work_repo: Path, server: Server, tmp_path: Path) -> None:
    out = tmp_path / "hook.json"
    hook = server.path / "hooks" / "pre-receive"
    hook.write_text(HOOK.format(python=sys.executable, root=str(ROOT), out=str(out)))
    hook.chmod(0o755)
    git(work_repo, "remote", "add", "origin", server.repo)
    commit(work_repo, {"a.yaml": cm("a", "1")}, "one")
    commit(work_repo, {"a.yaml": cm("a", "2"), "b.yml": cm("b", "1")}, "two")
    git(work_repo, "push", "-q", "origin", "main")
    seen = json.loads(out.read_text())
    assert seen["quarantine"] is True
    assert seen["commits"] == ["one", "two"]
    assert seen["changes"] == [["created", "a.yaml", "ConfigMap/a"], ["modified", "a.yaml", "ConfigMap/a"],
                               ["created", "b.yml", "ConfigMap/b"]]
    assert seen["forced"] == {"refs/heads/main": False}
    # A rejected push leaves no ref behind, and the next push sees its commits again.
    commit(work_repo, {"c.yaml": cm("rejected", "1")}, "three")
    reject = Path(f"{out}.reject")
    reject.touch()
    with pytest.raises(subprocess.CalledProcessError):
        git(work_repo, "push", "-q", "origin", "main")
    assert json.loads(out.read_text())["commits"] == ["three"]
    reject.unlink()
    commit(work_repo, {"c.yaml": cm("accepted", "1")}, "four")
    git(work_repo, "push", "-q", "origin", "main")
    seen = json.loads(out.read_text())
    assert seen["commits"] == ["three", "four"]
    assert seen["changes"] == [["created", "c.yaml", "ConfigMap/rejected"], ["created", "c.yaml", "ConfigMap/accepted"],
                               ["deleted", "c.yaml", "ConfigMap/rejected"]]


# --- a long history --------------------------------------------------------------------------


def fast_import_history(repo: Path, commits: int, files: int) -> None:
    """`commits` commits on refs/import/main: the first adds `files` Deployments, each later one
    scales one of them (one modified resource per commit)."""
    lines: list[bytes] = []

    def blob(text: str) -> None:
        data = text.encode()
        lines.append(b"data %d\n" % len(data) + data + b"\n")

    for n in range(commits):
        lines.append(b"commit refs/import/main\n")
        lines.append(b"committer Carl Committer <carl@example.com> %d +0000\n" % (1_700_000_000 + n))
        blob(f"commit {n}")
        if n == 0:
            for i in range(files):
                lines.append(f"M 100644 inline apps/app-{i}.yaml\n".encode())
                blob(deploy(f"app-{i}", replicas=0))
        else:
            i = n % files
            lines.append(f"M 100644 inline apps/app-{i}.yaml\n".encode())
            blob(deploy(f"app-{i}", replicas=n))
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=b"".join(lines), check=True, env=clean_env())


def test_three_thousand_commit_first_push(server: Server) -> None:
    fast_import_history(server.path, commits=3000, files=50)
    tip = server.ref("refs/import/main")
    assert tip
    git(server.path, "update-ref", "-d", "refs/import/main")  # objects in, no ref: as pre-receive sees it
    started = time.perf_counter()
    changeset = build_changeset(server.repo, [RefUpdate("0" * 40, tip, "refs/heads/main")])
    elapsed = time.perf_counter() - started
    print(f"\nbuild_changeset: 3,000 commits, {len(changeset.changes)} changes in {elapsed:.2f} s")
    assert len(changeset.commits) == 3000
    assert changeset.commits[-1].id == tip and changeset.commits[0].parents == ()
    assert [c.op for c in changeset.changes].count("created") == 50
    assert [c.op for c in changeset.changes].count("modified") == 2999
    assert changeset.changes[-1].diff == (FieldChange("spec.replicas", 2999 - 50, 2999),)
