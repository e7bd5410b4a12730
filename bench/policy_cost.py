"""Cost of the bundled policies per document kind (µs per evaluation), on the bench corpus.

Used to keep the bundled library cheap: regopy's per-rule cost dominates `check`.
Then decisions/s of the OPA server engine beside the embedded engine, on the
same documents. The server is the test stand-in (tests/policy/opa_server.py:
regopy behind HTTP; the OPA binary cannot be installed here), so that ratio
measures the cost of the HTTP round trip, not OPA's evaluation.
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict

import corpus

from auditsvc.config import BUNDLED_POLICIES
from auditsvc.policy import PolicyEngine
from auditsvc.policy.opa import OpaEngine
from auditsvc.policy.rego import RegoEngine

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus", "check")
OPA_SAMPLE = 500
sys.path.insert(0, os.path.join(HERE, "..", "tests", "policy"))
from opa_server import running  # noqa: E402 - the test stand-in for an OPA server


def main() -> None:
    if not os.path.isdir(CORPUS):
        corpus.build(CORPUS, 10_000)
    documents = corpus.documents(CORPUS)[: int(sys.argv[1]) if len(sys.argv) > 1 else 3000]
    engine = RegoEngine([BUNDLED_POLICIES])
    spent: dict[str, list[float]] = defaultdict(list)
    for document in documents:
        started = time.perf_counter()
        engine.evaluate(document)
        spent[document.get("kind", "?")].append(time.perf_counter() - started)
    total = sum(sum(times) for times in spent.values())
    print(f"{len(documents)} documents, {total / len(documents) * 1e6:.0f} µs per document on average")
    for kind, times in sorted(spent.items()):
        print(f"  {kind:<26} {sum(times) / len(times) * 1e6:8.0f} µs  ({len(times)} documents)")
    sample = documents[:OPA_SAMPLE]
    with running() as url:
        rates = {"embedded (regopy)": decisions_per_second(engine, sample)}
        rates["OPA engine, stand-in server"] = decisions_per_second(OpaEngine(url, policy_dirs=[BUNDLED_POLICIES]), sample)
    print(f"decisions/s on {len(sample)} documents (the stand-in is regopy behind HTTP, not OPA):")
    for name, rate in rates.items():
        print(f"  {name:<28} {rate:8.0f}/s  {rate / rates['embedded (regopy)']:.2f}x")


def decisions_per_second(engine: PolicyEngine, documents: list[dict]) -> float:
    started = time.perf_counter()
    for document in documents:
        engine.evaluate(document)
    return len(documents) / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
