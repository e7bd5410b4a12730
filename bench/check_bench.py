"""Throughput of `auditsvc check` against kubernetes-validate on one generated corpus.

Prints resources/s for schema-only and schema + bundled policies (the real CLI,
in a subprocess, start-up included), kubernetes-validate on the same resources,
the ratio, and jsonschema vs jsonschema-rs for the validator choice.
Run with `make bench`. Numbers come from this machine in this run only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import corpus

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus", "check")
PEER_SAMPLE = 1000  # kubernetes-validate is slow; it runs on a sample of the same corpus


def timed_check(args: list[str]) -> tuple[float, dict]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "auditsvc", "check", CORPUS, "-o", "json", *args], capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"auditsvc check failed: {proc.stderr}")
    return elapsed, json.loads(proc.stdout)


def kubernetes_validate_rate(documents: list[dict]) -> float:
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    sample = [d for d in documents if d.get("apiVersion") != "example.com/v1"][:PEER_SAMPLE]
    started = time.perf_counter()
    for document in sample:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError):
            pass
    return len(sample) / (time.perf_counter() - started)


def validator_rates(documents: list[dict]) -> tuple[float, float]:
    """Deployments/s with validators compiled once: jsonschema (pure Python) vs jsonschema-rs."""
    import jsonschema
    import jsonschema_rs
    import referencing

    from auditsvc.schemas import SchemaRegistry

    registry = SchemaRegistry()
    folder = registry._bundled_dir
    with open(os.path.join(folder, "deployment-apps-v1.json")) as handle:
        schema = json.load(handle)
    with open(os.path.join(folder, "_definitions.json")) as handle:
        definitions = json.load(handle)
    deployments = [d for d in documents if d.get("kind") == "Deployment"][:500]
    rs = jsonschema_rs.validator_for(schema, registry=jsonschema_rs.Registry([(definitions["$id"], definitions)]))
    resource = referencing.Resource.from_contents(definitions)
    py = jsonschema.Draft202012Validator(schema, registry=referencing.Registry().with_resource(definitions["$id"], resource))
    rates = []
    for validate in (lambda d: list(py.iter_errors(d)), lambda d: list(rs.iter_errors(d))):
        started = time.perf_counter()
        for document in deployments:
            validate(document)
        rates.append(len(deployments) / (time.perf_counter() - started))
    return rates[0], rates[1]


def main() -> None:
    if not os.path.isdir(CORPUS):
        corpus.build(CORPUS, 10_000)
    documents = corpus.documents(CORPUS)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as config:
        config.write("policies: []\n")
    schema_time, schema_result = timed_check(["--config", config.name])
    os.unlink(config.name)
    full_time, full_result = timed_check([])
    resources = full_result["summary"]["resources"]
    schema_rate = schema_result["summary"]["resources"] / schema_time
    full_rate = resources / full_time
    peer_rate = kubernetes_validate_rate(documents)
    py_rate, rs_rate = validator_rates(documents)
    print(f"corpus: {resources} resources in {full_result['summary']['files']} files, {os.cpu_count()} cores")
    print(f"auditsvc check, schema only:         {schema_rate:8.0f} resources/s ({schema_time:.2f} s)")
    print(f"auditsvc check, schema + policies:   {full_rate:8.0f} resources/s ({full_time:.2f} s)"
          f"  [{full_result['summary']['failures']} failures, {full_result['summary']['warnings']} warnings]")
    print(f"kubernetes-validate (strict, {PEER_SAMPLE} sample): {peer_rate:8.0f} resources/s")
    print(f"ratio schema only / kubernetes-validate:       {schema_rate / peer_rate:6.1f}x")
    print(f"ratio schema + policies / kubernetes-validate: {full_rate / peer_rate:6.1f}x  (target >= 30x)")
    print(f"full pipeline target >= 4000 resources/s: {'met' if full_rate >= 4000 else 'NOT met'}")
    print(f"validator (Deployment, compiled once): jsonschema {py_rate:.0f}/s, jsonschema-rs {rs_rate:.0f}/s "
          f"({rs_rate / py_rate:.0f}x)")


if __name__ == "__main__":
    main()
