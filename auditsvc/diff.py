"""Field-level differences between two versions of a resource (parsed JSON values)."""

from __future__ import annotations

import json
import math
from typing import Any

from auditsvc.manifests import FieldPath, format_field
from auditsvc.model import FieldChange


def field_diff(before: Any, after: Any) -> tuple[FieldChange, ...]:
    """Differences from `before` to `after`, at the deepest field that differs.

    Mappings are compared key by key (sorted, so the order of keys in the file does not
    matter); lists index by index, items past the shorter list being "add" or "remove".
    Values of different JSON types (1 vs 1.0 vs true, a mapping vs a list) are a
    "replace" of the whole value. Equal inputs give ().
    """
    changes: list[FieldChange] = []
    # Iterative, so no document is too deep for it. The stack holds sub-trees still to
    # compare and changes already found, pushed in reverse so they come out in order.
    stack: list[FieldChange | tuple[FieldPath, Any, Any]] = [((), before, after)]
    while stack:
        item = stack.pop()
        if isinstance(item, FieldChange):
            changes.append(item)
            continue
        path, old, new = item
        pending: list[FieldChange | tuple[FieldPath, Any, Any]] = []
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(old.keys() | new.keys()):
                if key not in new:
                    pending.append(FieldChange(format_field(path + (key,)), old[key], None, "remove"))
                elif key not in old:
                    pending.append(FieldChange(format_field(path + (key,)), None, new[key], "add"))
                elif not _surely_same(old[key], new[key]):
                    pending.append((path + (key,), old[key], new[key]))
        elif isinstance(old, list) and isinstance(new, list):
            for i in range(max(len(old), len(new))):
                if i >= len(new):
                    pending.append(FieldChange(format_field(path + (i,)), old[i], None, "remove"))
                elif i >= len(old):
                    pending.append(FieldChange(format_field(path + (i,)), None, new[i], "add"))
                elif not _surely_same(old[i], new[i]):
                    pending.append((path + (i,), old[i], new[i]))
        elif not same(old, new):
            pending.append(FieldChange(format_field(path), old, new, "replace"))
        stack.extend(reversed(pending))
    return tuple(changes)


def _surely_same(a: Any, b: Any) -> bool:
    """A fast check for equal sub-trees, at C speed; False only means "walk them to see"."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    try:
        if a != b:
            return False
        if not isinstance(a, (dict, list)):
            return True
        # == says 1 == 1.0 == True; JSON text does not.
        return json.dumps(a) == json.dumps(b)
    except (TypeError, ValueError, RecursionError):  # not JSON, or too deep for C: walk it
        return False


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
