"""Install the hook shims into a bare repository, beside whatever the Git host put there.

Layouts: plain git (`hooks/pre-receive`), Gitea (its generated `hooks/pre-receive`
runs every executable in `hooks/pre-receive.d/`), GitLab (`custom_hooks/pre-receive.d/`).
A host's generated hook is never edited, and a foreign hook is never overwritten.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from auditsvc.config import PACKAGE_ROOT
from auditsvc.errors import ConfigError

HOOKS = ("pre-receive", "post-receive")
SHIM_NAME = "auditsvc"
LAYOUTS = ("auto", "plain", "gitea", "gitlab")


def _shim(hook: str, config_path: str | None, socket_path: str | None) -> str:
    template = (PACKAGE_ROOT / "hooks" / hook).read_text()
    config_args = f"--config {shlex.quote(str(Path(config_path).resolve()))}" if config_path else ""
    if socket_path:  # hand the push to the warm daemon (auditsvc.hookd), or run it here when there is none
        command = f"auditsvc.hookd {hook} --socket {shlex.quote(str(Path(socket_path).resolve()))}"
    else:
        command = f"auditsvc hook {hook}"
    return template.replace("@PYTHON@", sys.executable).replace("@COMMAND@", command).replace("@CONFIG_ARGS@", config_args)


def _is_ours(path: Path) -> bool:
    try:
        return "installed by `auditsvc hook install`" in path.read_text(errors="replace")
    except OSError:
        return False


def detect_layout(git_dir: Path) -> str:
    if (git_dir / "custom_hooks").is_dir():
        return "gitlab"
    generated = git_dir / "hooks" / "pre-receive"
    if (git_dir / "hooks" / "pre-receive.d").is_dir() or (
        generated.exists() and not _is_ours(generated) and "gitea" in generated.read_text(errors="replace").lower()
    ):
        return "gitea"
    return "plain"


def hook_paths(git_dir: Path, layout: str) -> dict[str, Path]:
    if layout == "gitlab":
        return {hook: git_dir / "custom_hooks" / f"{hook}.d" / SHIM_NAME for hook in HOOKS}
    if layout == "gitea":
        return {hook: git_dir / "hooks" / f"{hook}.d" / SHIM_NAME for hook in HOOKS}
    return {hook: git_dir / "hooks" / hook for hook in HOOKS}


def _check_bare_repository(git_dir: Path) -> None:
    if not (git_dir / "objects").is_dir() or not (git_dir / "refs").is_dir():
        raise ConfigError(f"{git_dir} is not a bare git repository (no objects/ and refs/): pass the server-side GIT_DIR")


def install(
    git_dir: str, config_path: str | None = None, layout: str = "auto", socket_path: str | None = None
) -> dict[str, Path]:
    """Write both shims (idempotent) and enable push options; returns where they went. With
    socket_path the shims hand each push to `auditsvc hook daemon` listening there."""
    root = Path(git_dir)
    _check_bare_repository(root)
    if config_path and not Path(config_path).is_file():
        raise ConfigError(f"config {config_path} does not exist: the installed hook reads it on every push")
    chosen = detect_layout(root) if layout == "auto" else layout
    paths = hook_paths(root, chosen)
    for hook, path in paths.items():
        if path.exists() and not _is_ours(path):
            raise ConfigError(
                f"{path} exists and is not an auditsvc hook: refusing to overwrite it "
                "(use --layout gitea to install beside it in pre-receive.d, or remove it first)"
            )
    for hook, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(_shim(hook, config_path, socket_path))
        temporary.chmod(0o755)
        os.replace(temporary, path)
    subprocess.run(["git", "--git-dir", str(root), "config", "receive.advertisePushOptions", "true"], check=True)
    return paths


def uninstall(git_dir: str) -> list[Path]:
    """Remove our shims from every layout; other hooks and host files stay untouched."""
    root = Path(git_dir)
    _check_bare_repository(root)
    removed = []
    for layout in ("plain", "gitea", "gitlab"):
        for path in hook_paths(root, layout).values():
            if path.exists() and _is_ours(path):
                path.unlink()
                removed.append(path)
    if removed:
        subprocess.run(["git", "--git-dir", str(root), "config", "--unset", "receive.advertisePushOptions"], check=False)
    return removed
