"""The real service: `auditsvc serve` (gunicorn) in its own process on a loopback port, real HTTP,
a real remote repository (file://) that the service mirrors, signed webhook payloads."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from auditsvc.audit import open_log
from auditsvc.web.store import ROLES, ServiceStore
from tests.conftest import DATA, Server, clean_env, commit, git
from tests.web.manifests import bad_deployment, deployment

REPO = "acme/gitops"
SECRET = "s3cret-for-acme"
ZERO = "0" * 40


class Service:
    """`auditsvc serve` on 127.0.0.1 (port chosen by the kernel), with one token per role."""

    def __init__(self, root: Path, config: dict[str, Any] | None = None, workers: int = 2, db: str | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.var = root / "var"
        self.url = db or f"sqlite:///{self.var / 'audit.db'}"
        self.config = root / "auditsvc.yaml"
        self.workers = workers
        settings = {
            "db": self.url,
            "state_dir": str(self.var),
            "policies": [str(DATA / "policies")],
            "protected_refs": ["refs/heads/main"],
            "time_budget_seconds": 60,
            **(config or {}),
        }
        self.config.write_text(json.dumps(settings))
        with ServiceStore.open(self.var) as store:
            self.tokens = {role: store.create_token(f"test-{role}", role) for role in ROLES}
        self.log_path = root / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""

    def start(self) -> Service:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "auditsvc", "serve", "--port", "0", "--workers", str(self.workers), "--config", str(self.config)],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=clean_env(),
                cwd=self.root,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[offset:].decode(errors="replace")
            found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", text)
            if found and text.count("Booting worker") >= self.workers:
                self.base = found.group(1)
                break
            assert self.proc.poll() is None, text
            time.sleep(0.05)
        else:
            raise AssertionError(f"the service did not start:\n{self.log_path.read_text()}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
        self.proc = None

    def request(self, method: str, path: str, role: str | None = "reader", **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens.get(role, role)}"
        return requests.request(method, self.base + path, headers=headers, timeout=120, **kwargs)

    def get(self, route: str, role: str | None = "reader", /, **params: Any) -> requests.Response:
        return self.request("GET", route, role, params=params)

    def token(self, name: str, role: str, repos: list[str]) -> str:
        with ServiceStore.open(self.var) as store:
            self.tokens[name] = store.create_token(name, role, repos)
        return name

    def queue(self) -> dict[str, int]:
        with ServiceStore.open(self.var) as store:
            return store.queue_depth()

    def wait_idle(self, timeout: float = 180) -> dict[str, int]:
        """Until no delivery is queued or being worked on; the final counts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            depth = self.queue()
            if depth["queued"] == 0 and depth["working"] == 0:
                return depth
            time.sleep(0.1)
        raise AssertionError(f"deliveries still pending: {self.queue()}\n{self.log_path.read_text()[-3000:]}")

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        with open_log(self.url) as log:
            found = [dict(seq=e.seq, type=e.type, repo=e.repo, ref=e.ref, commit=e.commit, **e.body) for e in log.events()]
        return [e for e in found if type_ is None or e["type"] == type_]

    def verify(self) -> str:
        with open_log(self.url) as log:
            return str(log.verify())


class Remote:
    """A bare repository the 'Git host' serves (file://), and a clone to commit and push from."""

    def __init__(self, root: Path) -> None:
        self.git_dir = root / "remote.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.git_dir)], check=True)
        self.url = f"file://{self.git_dir}"
        self.work = root / "remote-work"
        subprocess.run(["git", "clone", "-q", str(self.git_dir), str(self.work)], check=True, env=clean_env(), capture_output=True)

    def commit(self, files: dict[str, str | None], message: str) -> str:
        return commit(self.work, files, message)

    def push(self, ref: str = "refs/heads/main", *extra: str) -> tuple[str, str]:
        """Push HEAD to ref; (before, after) as the host reports them."""
        before = subprocess.run(
            ["git", "-C", str(self.git_dir), "rev-parse", "--verify", "-q", ref], capture_output=True, text=True
        ).stdout.strip() or ZERO
        git(self.work, "push", "-q", *extra, "origin", f"HEAD:{ref}")
        return before, git(self.work, "rev-parse", "HEAD")


def push_payload(host: str, ref: str, before: str, after: str, commits: list[str] | None = None, repo: str = REPO, pusher: str = "octocat") -> dict[str, Any]:
    """A push payload as the host sends it (commit list as given: hosts truncate it)."""
    listed = [{"id": c, "message": "listed"} for c in (commits or [])]
    if host == "gitlab":
        return {
            "object_kind": "push", "ref": ref, "before": before, "after": after, "user_username": pusher,
            "user_name": pusher.title(), "user_email": f"{pusher}@example.com", "user_id": 42,
            "project": {"path_with_namespace": repo}, "commits": listed, "total_commits_count": len(listed),
        }
    return {
        "ref": ref, "before": before, "after": after, "repository": {"full_name": repo},
        "pusher": {"name": pusher, "login": pusher, "email": f"{pusher}@example.com"},
        "sender": {"login": pusher, "id": 42}, "commits": listed,
    }


def signed_headers(host: str, body: bytes, secret: str = SECRET, delivery: str | None = None) -> dict[str, str]:
    delivery = delivery or str(uuid.uuid4())
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if host == "github":
        return {"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": f"sha256={digest}"}
    if host == "gitea":
        return {"X-Gitea-Event": "push", "X-Gitea-Delivery": delivery, "X-Gitea-Signature": digest}
    return {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": delivery, "X-Gitlab-Token": secret}


def deliver(service: Service, host: str, payload: dict[str, Any], **sign: Any) -> requests.Response:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **signed_headers(host, body, **sign)}
    return service.request("POST", f"/webhooks/{host}", None, data=body, headers=headers)


def remote_pushes(remotes: dict[str, Remote], count: int) -> list[tuple[str, str, str, str]]:
    """app-0..count-1 pushed one by one to each remote: (repository, before, after, delivery id)."""
    deliveries = []
    for name, remote in remotes.items():
        for i in range(count):
            remote.commit({f"apps/app-{i}.yaml": deployment(f"app-{i}", replicas=i + 1)}, f"app {i}")
            before, after = remote.push()
            deliveries.append((name, before, after, f"{name}-{i}"))
    return deliveries


def hook_pushes(hook: Server, count: int) -> list[int]:
    """Push hooked-0..count-1 one by one through a hooked repository (the third fails policy and
    is refused, then dropped so the next push carries only its own commit); the exit codes."""
    codes = []
    for i in range(count):
        manifest = bad_deployment(f"hooked-{i}") if i == 2 else deployment(f"hooked-{i}")
        hook.commit({f"hooked/{i}.yaml": manifest}, f"hook push {i}")
        result = hook.push("origin", "HEAD:refs/heads/main")
        if result.returncode != 0:
            git(hook.work, "reset", "-q", "--hard", "HEAD~1")
        codes.append(result.returncode)
    return codes


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


@pytest.fixture
def service(tmp_path: Path, remote: Remote):
    """The service mirroring `remote` as acme/gitops, started; stopped after the test."""
    running = Service(tmp_path, {"repositories": {REPO: {"url": remote.url, "secret": SECRET}}}).start()
    yield running
    running.stop()
