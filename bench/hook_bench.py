"""Hook overhead and first-push latency, measured against plain git in the same run.

Prints: p50 wall time of a 1-commit push with the hook and without it (ratio),
and for a first push of a generated history of 3,000 commits touching
manifests: time to decision (pre-receive only) and time until everything is
recorded (pre-receive, post-receive and the background recorder it starts,
until the spool is empty), and `auditsvc import` of the same history
(commits/s). Run with `make bench`.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from auditsvc.spool import pending  # noqa: E402 - the checkout's package, as the hook runs it
# A hardened Deployment (as examples/good/web.yaml): the bundled policies accept it.
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{n}
  namespace: team-{team}
  labels: {{app.kubernetes.io/name: app-{n}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app.kubernetes.io/name: app-{n}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: app-{n}}}
    spec:
      automountServiceAccountToken: false
      securityContext: {{runAsNonRoot: true, seccompProfile: {{type: RuntimeDefault}}}}
      containers:
        - name: main
          image: registry.example.com/app-{n}:1.{version}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 256Mi}}
          livenessProbe: {{httpGet: {{path: /healthz, port: 8080}}}}
          readinessProbe: {{httpGet: {{path: /ready, port: 8080}}}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
"""
ENV = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@x"}


def run(*args: str, cwd: Path | None = None, input: bytes | None = None) -> None:
    subprocess.run(args, cwd=cwd, input=input, check=True, capture_output=True, env=ENV)


def bare_with_hook(root: Path, name: str, hooks: tuple[str, ...], socket: Path | None = None) -> Path:
    git_dir = root / f"{name}.git"
    run("git", "init", "-q", "--bare", "-b", "main", str(git_dir))
    if hooks:
        config = root / f"{name}.yaml"
        config.write_text(json.dumps({"db": f"sqlite:///{root / name}.db", "protected_refs": ["refs/heads/main"]}))
        daemon = ["--socket", str(socket)] if socket else []
        run(sys.executable, "-m", "auditsvc", "hook", "install", str(git_dir), "--config", str(config), *daemon)
        for hook in ("pre-receive", "post-receive"):
            if hook not in hooks:
                (git_dir / "hooks" / hook).unlink()
    return git_dir


def one_commit_pushes(root: Path, hooks: tuple[str, ...], count: int = 15, socket: Path | None = None) -> list[float]:
    name = "small-" + "-".join(hooks or ("none",)) + ("-daemon" if socket else "")
    git_dir = bare_with_hook(root, name, hooks, socket)
    work = root / f"work-{git_dir.stem}"
    run("git", "clone", "-q", str(git_dir), str(work))
    times = []
    for i in range(count):
        (work / "app.yaml").write_text(DEPLOYMENT.format(n=1, team=1, replicas=1 + i % 3, version=i))
        run("git", "add", ".", cwd=work)
        run("git", "commit", "-q", "-m", f"change {i}", cwd=work)
        started = time.perf_counter()
        run("git", "push", "-q", "origin", "main", cwd=work)
        times.append(time.perf_counter() - started)
        recorded(git_dir)  # the next push does not compete with this one's recorder
    return times


def long_history(root: Path, commits: int = 3000, apps: int = 60) -> Path:
    """A work repository with `commits` commits, each changing one of `apps` manifests (git fast-import)."""
    work = root / "history"
    run("git", "init", "-q", "-b", "main", str(work))
    stream = []
    for i in range(commits):
        n = i % apps
        data = DEPLOYMENT.format(n=n, team=n % 7, replicas=1 + i % 4, version=i).encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(f"committer Bench <b@x> {1700000000 + i * 60} +0000\n".encode())
        message = f"change {i}".encode()
        stream.append(b"data %d\n%s\n" % (len(message), message))
        stream.append(f"M 100644 inline apps/app-{n}.yaml\n".encode())
        stream.append(b"data %d\n%s\n" % (len(data), data))
    run("git", "fast-import", "--quiet", cwd=work, input=b"".join(stream))
    run("git", "reset", "-q", "--hard", "main", cwd=work)
    return work


def recorded(git_dir: Path) -> None:
    """Wait for the background recorder post-receive started to empty the spool."""
    while pending(str(git_dir)):
        time.sleep(0.01)


def first_push(root: Path, work: Path, hooks: tuple[str, ...]) -> float:
    git_dir = bare_with_hook(root, "big-" + "-".join(hooks), hooks)
    started = time.perf_counter()
    run("git", "push", "-q", str(git_dir), "main", cwd=work)
    recorded(git_dir)
    return time.perf_counter() - started


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="auditsvc-hook-bench-"))
    try:
        plain = statistics.median(one_commit_pushes(root, ()))
        hooked = statistics.median(one_commit_pushes(root, ("pre-receive", "post-receive")))
        print(f"1-commit push, p50: {hooked:.3f} s with the hook, {plain:.3f} s without ({hooked / plain:.1f}x);"
              f" hook cost {hooked - plain:.3f} s (a fresh interpreter per hook)")
        socket = root / "hooks.sock"
        with open(root / "daemon.log", "wb") as log:
            daemon = subprocess.Popen([sys.executable, "-m", "auditsvc", "hook", "daemon", "--socket", str(socket)], stderr=log)
        try:
            while not socket.exists():
                time.sleep(0.05)
            warm = statistics.median(one_commit_pushes(root, ("pre-receive", "post-receive"), socket=socket))
        finally:
            daemon.kill()
            daemon.wait()
        print(f"1-commit push, p50: {warm:.3f} s with the hook daemon ({warm / plain:.1f}x);"
              f" hook cost {warm - plain:.3f} s (target <= 0.3 s)")
        work = long_history(root)
        bare = first_push(root, work, ())
        decided = first_push(root, work, ("pre-receive",))
        recorded = first_push(root, work, ("pre-receive", "post-receive"))
        print(f"first push of 3,000 commits: plain git {bare:.2f} s; decided in {decided:.2f} s (target <= 5 s);"
              f" everything recorded in {recorded:.2f} s")
        started = time.perf_counter()
        run(sys.executable, "-m", "auditsvc", "import", str(work), "--db", f"sqlite:///{root / 'imported.db'}")
        took = time.perf_counter() - started
        print(f"auditsvc import of the same history: {took:.2f} s, {3000 / took:,.0f} commits/s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
