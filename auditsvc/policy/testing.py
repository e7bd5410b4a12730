"""`auditsvc policy test`: run the test_* rules of *_test.rego files, as `opa test` does.

Tests run in a forked child: regopy can abort the whole process on some valid
Rego, and such a crash must be reported against the test that caused it,
never mistaken for a pass.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import json
import os
import re
import signal
import time
from collections.abc import Sequence

import regopy

from auditsvc.errors import PolicyError
from auditsvc.policy.rego import (
    Module,
    captured_stdout,
    check_builtins,
    compile_errors,
    load_data,
    load_modules,
    query_entrypoint,
    rego_bundle_ok,
    rego_error,
)

_TEST_HEAD = re.compile(r"^(test_\w+)\b", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class TestResult:
    path: str
    query: str  # data.<package>.<test>
    outcome: str  # PASS, FAIL, ERROR
    detail: str = ""
    millis: float = 0.0


def discover(modules: Sequence[Module]) -> list[tuple[str, str]]:
    """(file, query) for every test_* rule in *_test.rego, in file order, each once."""
    tests = []
    for module in modules:
        if module.is_test:
            for name in dict.fromkeys(_TEST_HEAD.findall(module.text)):
                tests.append((module.path, f"data.{module.package}.{name}"))
    return tests


def _entrypoint(query: str) -> str:
    """data.lib.k.test_x -> lib/k/test_x, the form regopy's build() takes."""
    return query.removeprefix("data.").replace(".", "/")


def _child(modules: Sequence[Module], data: dict, tests: list[tuple[str, str]], start: int, out: int) -> None:
    def send(message: dict) -> None:
        os.write(out, (json.dumps(message) + "\n").encode())

    faulthandler.disable()  # a crash is reported by the parent, not as a traceback dump
    interpreter = regopy.Interpreter()
    interpreter.strict_built_in_errors = True
    # One compiled bundle for every test: a plain query recompiles all modules each time (seconds).
    with captured_stdout() as printed:
        try:
            for module in modules:
                interpreter.add_module(module.path, module.text)
            if data:
                interpreter.add_data(data)
            bundle = interpreter.build(None, [_entrypoint(query) for _, query in tests])
            error = "" if rego_bundle_ok(bundle._impl) else "the engine refused the bundle"
        except regopy.RegoError as err:
            error = rego_error(err)
    if error or "Errors:" in printed[0]:
        send({"compile_error": compile_errors(printed[0]) if printed[0].strip() else error})
        return
    for index in range(start, len(tests)):
        send({"start": index})
        began = time.perf_counter()
        try:
            text = query_entrypoint(interpreter, bundle, _entrypoint(tests[index][1]))
        except regopy.RegoError as err:
            send({"index": index, "outcome": "ERROR", "detail": rego_error(err)})
            continue
        except PolicyError as err:
            send({"index": index, "outcome": "ERROR", "detail": str(err)})
            continue
        millis = (time.perf_counter() - began) * 1000
        if text == '{"expressions":[true]}':
            send({"index": index, "outcome": "PASS", "millis": millis})
        else:
            detail = "undefined" if text == "undefined" else f"result {text}"
            send({"index": index, "outcome": "FAIL", "detail": detail, "millis": millis})


def _run_child(modules: Sequence[Module], data: dict, tests: list[tuple[str, str]], start: int) -> tuple[list[dict], int]:
    """Messages from one child run, and the signal that killed it (0 if none)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        code = 0
        try:
            _child(modules, data, tests, start, write_end)
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb") as reader:
        for line in reader:
            chunks.append(json.loads(line))
    _, status = os.waitpid(pid, 0)
    return chunks, (os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0)


def run_tests(policy_dirs: Sequence[str], data_files: Sequence[str] = ()) -> list[TestResult]:
    modules = load_modules(policy_dirs)
    check_builtins(modules)
    data = load_data(data_files)
    tests = discover(modules)
    results: dict[int, TestResult] = {}
    start = 0
    while start < len(tests):
        messages, killed_by = _run_child(modules, data, tests, start)
        started = None
        for message in messages:
            if "compile_error" in message:
                raise PolicyError(f"policies do not compile: {message['compile_error']}")
            if "start" in message:
                started = message["start"]
                continue
            index = message["index"]
            results[index] = TestResult(
                tests[index][0], tests[index][1], message["outcome"], message.get("detail", ""), message.get("millis", 0.0)
            )
        if started is None:
            if killed_by or not messages:
                cause = signal.Signals(killed_by).name if killed_by else "an unexpected error"
                raise PolicyError(f"the Rego engine crashed ({cause}) while compiling the policies")
            break
        if started in results:
            break
        # The child died inside this test: report it and carry on after it.
        cause = signal.Signals(killed_by).name if killed_by else "an unexpected error"
        results[started] = TestResult(
            tests[started][0], tests[started][1], "ERROR", f"the Rego engine crashed ({cause}) evaluating this test"
        )
        start = started + 1
    return [results[i] for i in sorted(results)]


def render_results(results: Sequence[TestResult], verbose: bool = True) -> str:
    lines: list[str] = []
    current = None
    for result in results:
        if not verbose and result.outcome == "PASS":
            continue
        if result.path != current:
            if current is not None:
                lines.append("")
            lines.append(f"{result.path}:")
            current = result.path
        detail = f": {result.detail}" if result.detail else ""
        lines.append(f"{result.query}: {result.outcome} ({result.millis:.1f}ms){detail}")
    passed = sum(1 for r in results if r.outcome == "PASS")
    failed = sum(1 for r in results if r.outcome == "FAIL")
    errors = sum(1 for r in results if r.outcome == "ERROR")
    lines.append("-" * 80)
    if passed:
        lines.append(f"PASS: {passed}/{len(results)}")
    if failed:
        lines.append(f"FAIL: {failed}/{len(results)}")
    if errors:
        lines.append(f"ERROR: {errors}/{len(results)}")
    if not results:
        lines.append("no tests found: name test rules test_* in files ending _test.rego")
    return "\n".join(lines) + "\n"
