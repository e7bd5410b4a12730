"""Cost of the bundled policies per document kind (µs per evaluation), on the bench corpus.

Used to keep the bundled library cheap: regopy's per-rule cost dominates `check`.
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict

import corpus

from auditsvc.config import BUNDLED_POLICIES
from auditsvc.policy.rego import RegoEngine

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus", "check")


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


if __name__ == "__main__":
    main()
