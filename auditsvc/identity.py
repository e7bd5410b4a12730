"""Who pushed, from the environment the Git server gives its hooks.

The pusher is whom the server authenticated (GitLab, Gitea, GitHub Enterprise,
gitolite, git-http-backend's REMOTE_USER, or a variable named in the config);
author and committer are only claims inside commits. Without any of these the
OS user is used and marked unauthenticated.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class Pusher:
    name: str
    source: str  # gitlab, gitea, github, gitolite, http, config, os
    authenticated: bool
    email: str = ""
    id: str = ""


@dataclasses.dataclass(frozen=True)
class PushCertificate:
    """A signed push (`git push --signed`): who signed it and whether git trusted the signature."""

    signer: str
    key: str
    status: str  # git's %G? letter: G good, B bad, U unknown validity, N none, ...
    nonce_status: str

    @property
    def good(self) -> bool:
        return self.status == "G" and self.nonce_status in ("OK", "SLOP")


def pusher_from_env(env: Mapping[str, str], variable: str | None = None) -> Pusher:
    """The authenticated pusher named by the hosting environment, else the OS user (unauthenticated)."""
    if variable and env.get(variable):
        return Pusher(env[variable], "config", True)
    if env.get("GL_USERNAME"):
        return Pusher(env["GL_USERNAME"], "gitlab", True, id=env.get("GL_ID", ""))
    if env.get("GITEA_PUSHER_NAME"):
        return Pusher(env["GITEA_PUSHER_NAME"], "gitea", True, env.get("GITEA_PUSHER_EMAIL", ""), env.get("GITEA_PUSHER_ID", ""))
    if env.get("GITHUB_USER_LOGIN"):
        return Pusher(env["GITHUB_USER_LOGIN"], "github", True)
    if env.get("GL_USER"):
        return Pusher(env["GL_USER"], "gitolite", True)
    if env.get("REMOTE_USER"):
        return Pusher(env["REMOTE_USER"], "http", True)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return Pusher(user, "os", False)


def repository_name(env: Mapping[str, str], git_dir: str) -> str:
    """The repository's name as the host knows it, else the bare directory's name."""
    if env.get("GL_PROJECT_PATH"):
        return env["GL_PROJECT_PATH"]
    if env.get("GITEA_REPO_USER_NAME") and env.get("GITEA_REPO_NAME"):
        return f"{env['GITEA_REPO_USER_NAME']}/{env['GITEA_REPO_NAME']}"
    if env.get("GITHUB_REPO_NAME"):
        return env["GITHUB_REPO_NAME"]
    if env.get("GL_REPO"):
        return env["GL_REPO"]
    name = os.path.basename(os.path.abspath(git_dir).rstrip("/"))
    return name.removesuffix(".git") if name != ".git" else os.path.basename(os.path.dirname(os.path.abspath(git_dir)))


def push_options(env: Mapping[str, str]) -> tuple[str, ...]:
    """`git push -o VALUE` options, in order (git 2.39 sets the count to 0 even without options)."""
    try:
        count = int(env.get("GIT_PUSH_OPTION_COUNT", "0"))
    except ValueError:
        return ()
    return tuple(env.get(f"GIT_PUSH_OPTION_{i}", "") for i in range(count))


def push_certificate(env: Mapping[str, str]) -> PushCertificate | None:
    if not env.get("GIT_PUSH_CERT"):
        return None
    return PushCertificate(
        signer=env.get("GIT_PUSH_CERT_SIGNER", ""),
        key=env.get("GIT_PUSH_CERT_KEY", ""),
        status=env.get("GIT_PUSH_CERT_STATUS", "N"),
        nonce_status=env.get("GIT_PUSH_CERT_NONCE_STATUS", ""),
    )
