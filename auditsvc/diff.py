"""Field-level differences between two versions of a resource (parsed JSON values)."""

from __future__ import annotations

import json
import math
from typing import Any

from auditsvc.manifests import FieldPath, format_field
from auditsvc.model import FieldChange


def field_diff(before: Any, after: Any) -> tuple[FieldChange, ...]:
    """Differences from `before` to `after`, deepest changed fields first-class.

    Mappings are compared key by key (sorted, so the order of keys in the file does not
    matter); lists index by index, items past the shorter list being "add" or "remove".
    Values of different JSON types (1 vs 1.0 vs true, a mapping vs a list) are a
    "replace" of the whole value. Equal inputs give ().
    """
    changes: list[FieldChange] = []
    # Iterative, so a deep document cannot hit the recursion limit; the stack is
    # filled in reverse so the output keeps sorted-key / ascending-index order.
    stack: list[tuple[FieldPath, Any, Any]] = [((), before, after)]
    while stack:
        path, old, new = stack.pop()
        if isinstance(old, dict) and isinstance(new, dict):
            pending = []
            for key in sorted(old.keys() | new.keys()):
                if key not in new:
                    pending.append(FieldChange(format_field(path + (key,)), old[key], None, "remove"))
                elif key not in old:
                    pending.append(FieldChange(format_field(path + (key,)), None, new[key], "add"))
                else:
                    pending.append((path + (key,), old[key], new[key]))
            _push(stack, changes, pending)
        elif isinstance(old, list) and isinstance(new, list):
            pending = []
            for i in range(max(len(old), len(new))):
                if i >= len(new):
                    pending.append(FieldChange(format_field(path + (i,)), old[i], None, "remove"))
                elif i >= len(old):
                    pending.append(FieldChange(format_field(path + (i,)), None, new[i], "add"))
                else:
                    pending.append((path + (i,), old[i], new[i]))
            _push(stack, changes, pending)
        elif not same(old, new):
            changes.append(FieldChange(format_field(path), old, new, "replace"))
    return tuple(changes)


def _push(stack: list, changes: list[FieldChange], pending: list) -> None:
    """Leaf changes are emitted in place; sub-trees wait on the stack in the same order."""
    # A FieldChange found at this level must come out before the sub-trees after it:
    # flush leaves until the first sub-tree, then stack the rest (reversed).
    for i, item in enumerate(pending):
        if isinstance(item, FieldChange):
            changes.append(item)
            continue
        rest = pending[i:]
        stack.extend(reversed([_Emit(x) if isinstance(x, FieldChange) else x for x in rest]))
        return


class _Emit(tuple):
    """A FieldChange queued behind a sub-tree, to keep the output in document order."""

    def __new__(cls, change: FieldChange) -> _Emit:
        return super().__new__(cls, ((), change, _EMIT))


_EMIT = object()


def same(a: Any, b: Any) -> bool:
    """JSON equality that tells 1, 1.0 and true apart and treats NaN as equal to NaN."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            if x.keys() != y.keys():
                return False
            stack.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y))
        elif x != y and not (isinstance(x, float) and math.isnan(x) and math.isnan(y)):
            return False
    return True


def describe(change: FieldChange, width: int = 80) -> str:
    """One line for people: `spec.replicas: 2 -> 3`, `metadata.labels.tier: added "web"`."""
    path = change.path or "(document)"
    if change.op == "add":
        return f"{path}: added {_short(change.new, width)}"
    if change.op == "remove":
        return f"{path}: removed {_short(change.old, width)}"
    return f"{path}: {_short(change.old, width)} -> {_short(change.new, width)}"


def _short(value: Any, width: int) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= width else text[: width - 1] + "…"
