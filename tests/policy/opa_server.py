"""A stand-in for the OPA server, which cannot be installed on these machines.

The OPA binary is not available here, so the OPA engine is tested against
this small HTTP server instead: it implements the part of OPA's documented
REST API that auditsvc uses, and evaluates with regopy (the embedded engine's
interpreter), not with OPA. It proves the protocol, the upload, the fail
modes and that the engine reads answers the way OPA gives them; it cannot
prove that OPA itself evaluates the policies as regopy does.

    GET    /health
    GET    /v1/policies                 {"result": [{"id", "raw"}, ...]}
    GET    /v1/policies/{id}            {"result": {"id", "raw"}}
    PUT    /v1/policies/{id}            module text; every module is compiled, 400 on errors
    DELETE /v1/policies/{id}
    PUT    /v1/data/{path}              any JSON value; 204
    POST   /v1/data/{path}              {"input": ...} -> {"result": ...}, or {} when undefined
    PUT    /test/delay                  not OPA's: seconds to hold every later answer but /health

Run: python opa_server.py [--delay SECONDS] [--bundle DIR]; it prints its URL
on the first line. --delay holds every answer but /health (a slow server);
--bundle loads the .rego files of DIR at start, as OPA loads a bundle.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import regopy
from regopy.rego_shared import rego_bundle_ok

from auditsvc.errors import PolicyError
from auditsvc.policy.rego import captured_stdout, compile_errors, query_entrypoint, rego_error, set_input


class Store:
    """Modules and data, and regopy bundles compiled per queried path until either changes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.modules: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.compiled: dict[str, tuple[regopy.Interpreter, Any]] = {}

    def compile(self, modules: dict[str, str], entrypoint: str) -> tuple[regopy.Interpreter, Any]:
        interpreter = regopy.Interpreter()
        interpreter.strict_built_in_errors = True
        with captured_stdout() as printed:
            try:
                for policy_id, text in sorted(modules.items()):
                    interpreter.add_module(policy_id, text)
                if self.data:
                    interpreter.add_data(self.data)
                bundle = interpreter.build(None, [entrypoint])
                error = None if rego_bundle_ok(bundle._impl) else "the bundle does not compile"
            except regopy.RegoError as err:
                error = rego_error(err)
        if error or "Errors:" in printed[0]:
            raise PolicyError(compile_errors(printed[0]) if printed[0].strip() else str(error))
        return interpreter, bundle

    def put_policy(self, policy_id: str, text: str) -> None:
        modules = {**self.modules, policy_id: text}
        self.compile(modules, "auditsvc_fake_opa/none")  # as OPA does: refuse a module that breaks the set
        self.modules = modules
        self.compiled.clear()

    def put_data(self, path: list[str], value: Any) -> None:
        if not path:
            self.data = value
        else:
            node = self.data
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        self.compiled.clear()

    def decide(self, path: list[str], value: Any) -> Any:
        entrypoint = "/".join(path)
        if entrypoint not in self.compiled:
            self.compiled[entrypoint] = self.compile(self.modules, entrypoint)
        interpreter, bundle = self.compiled[entrypoint]
        set_input(interpreter, value)
        text = query_entrypoint(interpreter, bundle, entrypoint)
        return None if text == "undefined" else json.loads(text)["expressions"][0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's session expects
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    store: Store
    delay: float = 0.0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _route(self) -> tuple[str, str]:
        path = self.path.split("?", 1)[0]
        if path not in ("/health", "/test/delay") and self.delay:
            time.sleep(self.delay)
        for prefix in ("/v1/policies", "/v1/data"):
            if path == prefix or path.startswith(prefix + "/"):
                return prefix, path[len(prefix) + 1 :]
        return path, ""

    def do_GET(self) -> None:
        route, rest = self._route()
        with self.store.lock:
            if route == "/health":
                self._answer(200, {})
            elif route == "/v1/policies" and not rest:
                self._answer(200, {"result": [{"id": i, "raw": t} for i, t in sorted(self.store.modules.items())]})
            elif route == "/v1/policies" and rest in self.store.modules:
                self._answer(200, {"result": {"id": rest, "raw": self.store.modules[rest]}})
            elif route == "/v1/policies":
                self._answer(404, {"code": "resource_not_found", "message": f"storage_not_found_error: policy id {rest!r}"})
            else:
                self._answer(404, {"code": "resource_not_found", "message": "this stand-in does not serve that path"})

    def do_PUT(self) -> None:
        route, rest = self._route()
        body = self._body()
        with self.store.lock:
            if route == "/v1/policies" and rest:
                try:
                    self.store.put_policy(rest, body.decode("utf-8"))
                except PolicyError as err:
                    message = "error(s) occurred while compiling module(s)"
                    self._answer(400, {"code": "invalid_parameter", "message": message,
                                       "errors": [{"code": "rego_compile_error", "message": str(err)}]})
                    return
                self._answer(200, {})
            elif route == "/test/delay":
                Handler.delay = float(body)
                self._answer(204)
            elif route == "/v1/data":
                self.store.put_data([p for p in rest.split("/") if p], json.loads(body))
                self._answer(204)
            else:
                self._answer(404, {"code": "resource_not_found", "message": "this stand-in does not serve that path"})

    def do_DELETE(self) -> None:
        route, rest = self._route()
        with self.store.lock:
            if route == "/v1/policies" and rest in self.store.modules:
                del self.store.modules[rest]
                self.store.compiled.clear()
                self._answer(200, {})
            else:
                self._answer(404, {"code": "resource_not_found", "message": f"storage_not_found_error: policy id {rest!r}"})

    def do_POST(self) -> None:
        route, rest = self._route()
        request = json.loads(self._body() or b"{}")
        with self.store.lock:
            if route != "/v1/data":
                self._answer(404, {"code": "resource_not_found", "message": "this stand-in does not serve that path"})
                return
            try:
                result = self.store.decide([p for p in rest.split("/") if p], request.get("input"))
            except PolicyError as err:
                self._answer(500, {"code": "internal_error", "message": str(err)})
                return
            self._answer(200, {} if result is None else {"result": result})


def load_bundle(store: Store, directory: str) -> None:
    """.rego files as modules, data.json files as data at their directory's path, as OPA reads a bundle."""
    for root, _, files in os.walk(directory):
        for name in sorted(files):
            path = os.path.join(root, name)
            relative = os.path.relpath(path, directory)
            if name.endswith(".rego"):
                with open(path, encoding="utf-8") as handle:
                    store.modules[f"bundle/{relative}"] = handle.read()
            elif name == "data.json":
                with open(path, encoding="utf-8") as handle:
                    store.put_data([p for p in os.path.dirname(relative).split(os.sep) if p], json.load(handle))


@contextlib.contextmanager
def running(*args: str) -> Iterator[str]:
    """Start this server in its own process on a free loopback port; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://"), process.stderr.read() if process.stderr else url
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to hold every answer but /health")
    parser.add_argument("--bundle", help="directory of .rego files loaded at start, as a bundle")
    options = parser.parse_args()
    Handler.store = Store()
    Handler.delay = options.delay
    if options.bundle:
        load_bundle(Handler.store, options.bundle)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
