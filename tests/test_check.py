"""The one evaluation path: in-process and forked workers agree; blobs are checked once."""

from __future__ import annotations

from pathlib import Path

from auditsvc.check import PARALLEL_MIN_BYTES, Checker, find_crds, run_check
from auditsvc.config import load_settings
from auditsvc.manifests import Source, collect

from conftest import DATA, write

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: team
spec:
  selector:
    matchLabels: {{app: a}}
  template:
    metadata:
      labels: {{app: a}}
    spec:
      containers:
        - name: main
          image: {image}
"""


def checker(**overrides) -> Checker:
    settings = load_settings(environ={}, overrides={"policies": [str(DATA / "policies")], **overrides})
    return Checker.from_settings(settings)


def test_workers_and_in_process_give_the_same_result(tmp_path: Path):
    padding = "# " + "x" * 200 + "\n"
    for i in range(400):
        image = "nginx:latest" if i % 7 == 0 else f"nginx:1.{i}"
        write(tmp_path / f"team-{i % 5}" / f"app-{i}.yaml", padding * 30 + DEPLOYMENT.format(i=i, image=image))
    sources = collect([str(tmp_path)])
    assert sum(len(Path(s.path).read_bytes()) for s in sources) > PARALLEL_MIN_BYTES
    parallel = run_check(checker(), sources, workers=2)
    serial = run_check(checker(), sources, workers=1)
    assert parallel == serial
    assert parallel.resources == 400
    assert parallel.failures == 400 + 58  # every app runs as root; every 7th uses :latest


def test_the_same_blob_at_the_same_path_is_checked_once():
    data = DEPLOYMENT.format(i=1, image="nginx:latest").encode()
    check = checker()
    first = run_check(check, [Source("apps/a.yaml", data, "b1"), Source("apps/a.yaml", data, "b1")], workers=1)
    assert len(check._by_blob) == 1
    assert first.findings[: len(first.findings) // 2] == first.findings[len(first.findings) // 2 :]
    moved = run_check(check, [Source("apps/b.yaml", data, "b1")], workers=1)
    assert {f.path for f in moved.findings} == {"apps/b.yaml"}


def test_crds_are_found_only_in_files_that_mention_them(tmp_path: Path):
    crd = write(tmp_path / "crd.yaml", (DATA / "widget-crd.yaml").read_text())
    other = write(tmp_path / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    crds = find_crds([Source(str(crd)), Source(str(other)), Source("missing.yaml")], load_settings(environ={}).limits)
    assert [c["metadata"]["name"] for c in crds] == ["widgets.example.com"]


def test_unreadable_file_is_a_finding(tmp_path: Path):
    result = run_check(checker(), [Source(str(tmp_path / "gone.yaml"))], workers=1)
    assert [(f.rule, f.message) for f in result.findings] == [("parse", "cannot read file: No such file or directory")]
    assert result.exit_code(fail_on_warn=False) == 1
