"""A warm process for the hooks: `auditsvc hook daemon --socket PATH` keeps the imports (Rego,
schemas, the audit log) loaded, and shims installed with `auditsvc hook install --socket PATH`
hand it each push instead of starting a fresh interpreter that imports them again: about 0.15 s
per hook, twice per push (bench/hook_bench.py measures both ways).

The shim runs this module as a client that needs the standard library only: it sends the hook
name, the config path, its working directory, its environment (GIT_DIR, git's quarantine, the
host's identity variables, push options) and its standard input over the Unix socket; the daemon
forks a child that runs the same code as `auditsvc hook pre-receive` (or post-receive) with that
environment, and answers its output and exit code. When the daemon is not running, or ends a
request without an answer, the client runs the hook itself (`python -m auditsvc hook ...`): a
stopped daemon costs time, never a check. Only the daemon's user may connect (the socket is mode
0600): whoever can connect can claim any pusher, as whoever can run the hook can.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import sys
import tempfile
import time
from typing import Any, NoReturn

# A daemon that accepted but never answers (stopped, wedged) must not hold the push forever; the
# hook itself answers within its time budget (default 4.5 s), so this is far beyond any real run.
ANSWER_TIMEOUT_SECONDS = 120


# --- the client the shims run (standard library only) -------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """python -m auditsvc.hookd HOOK --socket PATH [--config FILE]"""
    args = sys.argv[1:] if argv is None else argv
    hook, options = args[0], dict(zip(args[1::2], args[2::2]))
    config = options.get("--config")
    data = sys.stdin.buffer.read()
    request = {
        "hook": hook,
        "config": config,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "stdin": data.decode("utf-8", "surrogateescape"),
    }
    reply = _ask(options["--socket"], request)
    if reply is None:
        _run_here(hook, config, data)
    sys.stderr.write(reply["output"])
    sys.stderr.flush()
    sys.exit(reply["exit"])


def _ask(path: str, request: dict[str, Any]) -> dict[str, Any] | None:
    """The daemon's answer; None when there is none (not running, refused, ended without one)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(ANSWER_TIMEOUT_SECONDS)
            conn.connect(path)
            conn.sendall(json.dumps(request).encode())
            conn.shutdown(socket.SHUT_WR)
            reply = json.loads(b"".join(iter(lambda: conn.recv(65536), b"")))
    except (OSError, ValueError):
        return None
    ok = isinstance(reply, dict) and isinstance(reply.get("exit"), int) and isinstance(reply.get("output"), str)
    return reply if ok else None


def _run_here(hook: str, config: str | None, data: bytes) -> NoReturn:
    """Run the hook in this process after all, with the standard input already read."""
    with tempfile.TemporaryFile() as saved:
        saved.write(data)
        saved.seek(0)
        os.dup2(saved.fileno(), 0)
    args = [sys.executable, "-m", "auditsvc", "hook", hook, *(["--config", config] if config else [])]
    os.execv(sys.executable, args)


# --- the daemon -------------------------------------------------------------------------------


def serve(socket_path: str, log: Any = sys.stderr) -> None:
    """Listen on socket_path until killed; one forked child per hook run."""
    from auditsvc import changes, check, gate, hook, spool  # noqa: F401 - loaded once, shared by every child
    from auditsvc.audit import open_log  # noqa: F401
    from auditsvc.errors import ConfigError

    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    umask = os.umask(0o177)
    try:
        listener.bind(socket_path)
    except OSError as err:
        raise ConfigError(f"cannot listen on {socket_path}: {err.strerror or err} (a Unix socket path has at most 107 bytes)") from None
    finally:
        os.umask(umask)
    listener.listen(128)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    print(f"auditsvc hook daemon listening on {socket_path}", file=log, flush=True)
    while True:
        conn, _ = listener.accept()
        if os.fork() == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the hook waits for its own children
            listener.close()
            try:
                _answer(conn, log)
            finally:
                os._exit(0)
        conn.close()


def _answer(conn: socket.socket, log: Any) -> None:
    """Run one hook as the shim would have; no answer at all when it cannot start (the client
    then runs the hook itself and reports the problem as the hook does)."""
    from auditsvc.config import load_settings
    from auditsvc.errors import AuditsvcError
    from auditsvc.hook import post_receive, pre_receive

    started = time.monotonic()
    request = json.loads(b"".join(iter(lambda: conn.recv(65536), b"")))
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    try:
        settings = load_settings(request["config"])
    except AuditsvcError:
        return
    run = {"pre-receive": pre_receive, "post-receive": post_receive}[request["hook"]]
    out = io.StringIO()
    code = run(settings, os.environ, io.StringIO(request["stdin"]), out)
    conn.sendall(json.dumps({"exit": code, "output": out.getvalue()}).encode())
    took = (time.monotonic() - started) * 1000
    print(f"{request['hook']} {os.getcwd()}: exit {code} in {took:.0f} ms", file=log, flush=True)


if __name__ == "__main__":
    main()
