"""Field-level diffs: paths, list growth, type changes, determinism."""

from __future__ import annotations

import json

from auditsvc.diff import describe, field_diff, same
from auditsvc.model import FieldChange


def test_equal_values_have_no_diff() -> None:
    doc = {"spec": {"replicas": 2, "containers": [{"image": "a"}]}, "n": None}
    assert field_diff(doc, json.loads(json.dumps(doc))) == ()
    assert field_diff(None, None) == ()
    assert field_diff([], []) == ()


def test_nested_change_is_reported_at_the_deepest_field() -> None:
    before = {"spec": {"template": {"spec": {"containers": [{"name": "m", "image": "nginx:1.24"}]}}}}
    after = {"spec": {"template": {"spec": {"containers": [{"name": "m", "image": "nginx:1.25"}]}}}}
    assert field_diff(before, after) == (
        FieldChange("spec.template.spec.containers[0].image", "nginx:1.24", "nginx:1.25", "replace"),
    )


def test_added_and_removed_keys_carry_the_whole_subtree() -> None:
    before = {"metadata": {"name": "a", "labels": {"x": "1"}}}
    after = {"metadata": {"name": "a", "annotations": {"y": "2"}}}
    assert field_diff(before, after) == (
        FieldChange("metadata.annotations", None, {"y": "2"}, "add"),
        FieldChange("metadata.labels", {"x": "1"}, None, "remove"),
    )


def test_lists_grown_and_shrunk_index_by_index() -> None:
    assert field_diff({"a": [1, 2]}, {"a": [1, 3, 4, 5]}) == (
        FieldChange("a[1]", 2, 3),
        FieldChange("a[2]", None, 4, "add"),
        FieldChange("a[3]", None, 5, "add"),
    )
    assert field_diff({"a": [1, 2, 3]}, {"a": [1]}) == (
        FieldChange("a[1]", 2, None, "remove"),
        FieldChange("a[2]", 3, None, "remove"),
    )


def test_type_changes_replace_the_whole_value() -> None:
    assert field_diff({"a": {"b": 1}}, {"a": [1]}) == (FieldChange("a", {"b": 1}, [1]),)
    assert field_diff({"a": 1}, {"a": "1"}) == (FieldChange("a", 1, "1"),)
    # Python says 1 == 1.0 == True; JSON and Kubernetes do not.
    assert field_diff({"a": 1}, {"a": True}) == (FieldChange("a", 1, True),)
    assert field_diff({"a": 1}, {"a": 1.0}) == (FieldChange("a", 1, 1.0),)
    assert field_diff({"a": None}, {"a": 0}) == (FieldChange("a", None, 0),)
    assert field_diff("x", {"kind": "Pod"}) == (FieldChange("", "x", {"kind": "Pod"}),)


def test_null_value_is_not_a_missing_key() -> None:
    assert field_diff({}, {"a": None}) == (FieldChange("a", None, None, "add"),)
    assert field_diff({"a": None}, {}) == (FieldChange("a", None, None, "remove"),)


def test_order_is_sorted_keys_then_ascending_indexes_whatever_the_input_order() -> None:
    before = {"z": 1, "a": {"y": 1, "b": [0, 0]}, "m": 1}
    after = {"m": 2, "a": {"b": [0, 1], "y": 2}, "z": 2}
    paths = [c.path for c in field_diff(before, after)]
    assert paths == ["a.b[1]", "a.y", "m", "z"]
    reordered = dict(reversed(list(before.items())))
    assert field_diff(reordered, after) == field_diff(before, after)


def test_odd_keys_are_quoted_in_paths() -> None:
    before = {"metadata": {"annotations": {"example.com/x y": "1"}}}
    after = {"metadata": {"annotations": {"example.com/x y": "2"}}}
    assert field_diff(before, after)[0].path == 'metadata.annotations["example.com/x y"]'


def test_nan_equals_nan() -> None:
    assert field_diff({"a": float("nan")}, {"a": float("nan")}) == ()
    assert same([float("nan")], [float("nan")])
    assert not same([1], [True])


def test_deep_documents_do_not_hit_the_recursion_limit() -> None:
    before: object = 1
    after: object = 2
    for _ in range(5000):
        before, after = {"a": before}, {"a": after}
    (change,) = field_diff(before, after)
    assert change.path.count(".") == 4999 and (change.old, change.new) == (1, 2)


def test_field_changes_are_json_serialisable() -> None:
    changes = field_diff({"a": 1, "b": [1]}, {"b": [1, {"c": None}], "d": "x"})
    text = json.dumps([c.__dict__ for c in changes])
    assert json.loads(text) == [
        {"path": "a", "old": 1, "new": None, "op": "remove"},
        {"path": "b[1]", "old": None, "new": {"c": None}, "op": "add"},
        {"path": "d", "old": None, "new": "x", "op": "add"},
    ]


def test_describe() -> None:
    assert describe(FieldChange("spec.replicas", 2, 3)) == "spec.replicas: 2 -> 3"
    assert describe(FieldChange("spec.image", "a:1", "a:2")) == 'spec.image: "a:1" -> "a:2"'
    assert describe(FieldChange("metadata.labels", None, {"b": "2", "a": "1"}, "add")) == (
        'metadata.labels: added {"a":"1","b":"2"}'
    )
    assert describe(FieldChange("spec.paused", True, None, "remove")) == "spec.paused: removed true"
    assert describe(FieldChange("", 1, "x")) == '(document): 1 -> "x"'
    long = describe(FieldChange("data.x", "a" * 200, "b"), width=20)
    assert long == 'data.x: "aaaaaaaaaaaaaaaaaa… -> "b"'
