"""auditsvc.manifests: bytes -> documents with lines, List expansion, hostile input, collect()."""

from __future__ import annotations

import os

import pytest

from auditsvc.manifests import Document, Limits, Source, collect, format_field, parse, parse_field
from auditsvc.model import ResourceKey

DEPLOYMENT_AND_SERVICE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app.kubernetes.io/name: web
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.25
        - name: sidecar
          image: busybox
---
# a comment before the second document
apiVersion: v1
kind: Service
metadata:
  name: web
"""


def parse_text(text: str, path: str = "m.yaml", limits: Limits = Limits()):
    return parse(path, text.encode(), limits)


def only_finding(parsed):
    """The single parse finding of a rejected file."""
    assert len(parsed.findings) == 1, parsed.findings
    finding = parsed.findings[0]
    assert finding.rule == "parse"
    assert finding.severity == "deny"
    assert finding.outcome == "failure"
    return finding


# --- multi-document YAML and field lines ----------------------------------------------------------


def test_multi_document_yaml_has_first_line_index_and_key_per_document():
    parsed = parse_text(DEPLOYMENT_AND_SERVICE)

    assert parsed.findings == []
    assert [(d.index, d.line) for d in parsed.documents] == [(0, 1), (1, 19)]
    assert [d.key for d in parsed.documents] == [
        ResourceKey("apps/v1", "Deployment", "shop", "web"),
        ResourceKey("v1", "Service", "", "web"),
    ]
    assert [str(d.key) for d in parsed.documents] == ["Deployment/shop/web", "Service/web"]
    assert parsed.documents[0].value["spec"]["replicas"] == 2
    assert all(d.path == "m.yaml" and d.prefix == () for d in parsed.documents)


@pytest.mark.parametrize(
    ("field", "line"),
    [
        (("kind",), 2),
        (("metadata", "namespace"), 5),
        (("spec", "replicas"), 9),
        (("spec", "template", "spec", "containers"), 12),
        (("spec", "template", "spec", "containers", 0), 13),
        (("spec", "template", "spec", "containers", 1), 15),
        (("spec", "template", "spec", "containers", 1, "image"), 16),
        # missing parts: the line of the deepest part that exists
        (("spec", "template", "spec", "containers", 7, "image"), 12),
        (("spec", "strategy", "type"), 8),
        (("nope",), 1),
        ((), 1),
    ],
)
def test_line_of_nested_fields(field, line):
    document = parse_text(DEPLOYMENT_AND_SERVICE).documents[0]
    assert document.line_of(field) == line


def test_line_of_label_key_with_dots_and_slash_via_parse_field():
    document = parse_text(DEPLOYMENT_AND_SERVICE).documents[0]
    field = parse_field('metadata.labels["app.kubernetes.io/name"]')

    assert field == ("metadata", "labels", "app.kubernetes.io/name")
    assert document.line_of(field) == 7


def test_line_of_in_second_document_is_absolute_in_the_file():
    service = parse_text(DEPLOYMENT_AND_SERVICE).documents[1]
    assert service.line_of(("metadata", "name")) == 22
    assert service.line_of(("spec", "ports")) == 19


def test_line_of_without_node_is_the_document_line():
    document = Document("x.yaml", 0, 7, {"a": {"b": 1}})
    assert document.line_of(("a", "b")) == 7


def test_line_of_finds_a_yaml11_boolean_key_by_its_json_name():
    document = parse_text("spec:\n  on: push\n").documents[0]
    assert document.value == {"spec": {"true": "push"}}
    assert document.line_of(("spec", "true")) == 2


# --- JSON ------------------------------------------------------------------------------------------


def test_json_file_is_parsed_with_lines():
    text = '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap",\n  "metadata": {\n    "name": "cfg"\n  }\n}\n'
    parsed = parse_text(text, path="cm.json")

    assert parsed.findings == []
    [document] = parsed.documents
    assert document.value == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}
    assert document.line == 1
    assert document.line_of(("metadata", "name")) == 5


def test_json_that_libyaml_rejects_falls_back_to_json():
    # A tab before the top-level brace is valid JSON but "cannot start any token" in YAML.
    text = '\t{\n\t\t"apiVersion": "v1",\n\t\t"kind": "ConfigMap",\n\t\t"data": {"k": "v"}\n\t}\n'
    assert parse_text(text, path="cm.yaml").findings  # the same bytes as YAML are rejected

    parsed = parse_text(text, path="cm.json")

    assert parsed.findings == []
    [document] = parsed.documents
    assert document.value == {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}}
    assert (document.line, document.index) == (1, 0)
    assert document.line_of(("data", "k")) == 1  # no YAML node: the document's line


def test_json_fallback_expands_lists():
    text = '\t{"apiVersion": "v1", "kind": "List", "items": [{"kind": "A"}, {"kind": "B"}]}'
    parsed = parse_text(text, path="list.json")

    assert parsed.findings == []
    assert [(d.value, d.prefix) for d in parsed.documents] == [
        ({"kind": "A"}, ("items", 0)),
        ({"kind": "B"}, ("items", 1)),
    ]


def test_invalid_json_names_the_line_of_the_error():
    finding = only_finding(parse_text('\t{"a": [1,\n\t2}', path="bad.json"))
    assert finding.line == 2
    assert finding.message == "invalid JSON: Expecting ',' delimiter: line 2 column 3 (char 13)"
    assert finding.location == "bad.json:2"


# --- List expansion ---------------------------------------------------------------------------------


def test_kind_list_expands_to_items_with_lines_and_prefix():
    text = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: one
  -
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: two
      namespace: ns
"""
    parsed = parse_text(text)

    assert parsed.findings == []
    assert [(d.index, d.line, d.prefix, str(d.key)) for d in parsed.documents] == [
        (0, 4, ("items", 0), "ConfigMap/one"),
        (0, 9, ("items", 1), "ConfigMap/ns/two"),
    ]
    second = parsed.documents[1]
    assert second.line_of(("metadata", "namespace")) == 13
    assert second.line_of(("metadata", "missing")) == 11


def test_any_kind_ending_in_list_expands():
    parsed = parse_text("kind: FooList\nitems:\n- {kind: A}\n- {kind: B}\n")
    assert [(d.line, d.value) for d in parsed.documents] == [(3, {"kind": "A"}), (4, {"kind": "B"})]


def test_list_without_items_list_is_one_document():
    parsed = parse_text("kind: FooList\nitems: none\n")
    assert [d.value for d in parsed.documents] == [{"kind": "FooList", "items": "none"}]


def test_empty_documents_are_skipped_but_keep_their_index():
    parsed = parse_text("---\n---\na: 1\n---\n\n# only a comment\n---\nb: 2\n")

    assert parsed.findings == []
    assert [(d.index, d.line, d.value) for d in parsed.documents] == [(1, 3, {"a": 1}), (3, 8, {"b": 2})]


def test_empty_file_has_no_documents_and_no_findings():
    parsed = parse_text("")
    assert (parsed.documents, parsed.findings) == ([], [])


def test_utf8_bom_is_accepted():
    parsed = parse("bom.yaml", b"\xef\xbb\xbfkind: A\n")
    assert [d.value for d in parsed.documents] == [{"kind": "A"}]


# --- YAML 1.1 oddities ------------------------------------------------------------------------------


def test_yaml11_scalars_become_json_values_the_kubernetes_way():
    text = """\
eq: =
answer: yes
on: 1
yes: 2
off: 3
~: 4
ts: 2001-12-14t21:59:43.10-05:00
date: 2024-01-01
bin: !!binary aGVsbG8=
hex: 0x1f
under: 1_000
"""
    [document] = parse_text(text).documents

    assert document.value == {
        "eq": "=",
        "answer": True,
        "true": 2,  # `on:` and `yes:` are the same key
        "false": 3,
        "null": 4,
        "ts": "2001-12-14t21:59:43.10-05:00",
        "date": "2024-01-01",
        "bin": "aGVsbG8=",
        "hex": 31,
        "under": 1000,
    }


def test_merge_keys_use_the_full_constructor():
    text = "base: &base {cpu: 1, memory: 2Gi}\nderived:\n  <<: *base\n  memory: 4Gi\n"
    [document] = parse_text(text).documents

    assert document.value == {
        "base": {"cpu": 1, "memory": "2Gi"},
        "derived": {"cpu": 1, "memory": "4Gi"},
    }


def test_full_constructor_keeps_the_same_yaml11_rules():
    # !!set forces the full constructor for the whole document: same answers as the fast path.
    text = "s: !!set {a, b}\neq: =\nts: 2024-01-01\non: x\nbin: !!binary aGk=\n"
    [document] = parse_text(text).documents

    assert document.value == {"s": {"a": None, "b": None}, "eq": "=", "ts": "2024-01-01", "true": "x", "bin": "aGk="}


def test_leading_zero_integer_is_yaml11_octal_like_the_full_constructor():
    fast = parse_text("defaultMode: 0644\n").documents[0].value
    full = parse_text("x: !!set {a}\ndefaultMode: 0644\n").documents[0].value

    assert full["defaultMode"] == 420
    assert fast["defaultMode"] == 420


# --- hostile input ----------------------------------------------------------------------------------


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_one_finding():
    parsed = parse_text("kind: Before\n---\n" + alias_bomb())

    finding = only_finding(parsed)
    assert finding.line == 3
    assert finding.message == (
        "document expands to more than 1000000 nodes (YAML aliases multiply it: an alias bomb?)"
    )
    assert [d.value for d in parsed.documents] == [{"kind": "Before"}]


def test_alias_expansion_under_the_node_limit_is_accepted():
    parsed = parse_text(alias_bomb(levels=3, width=3))
    assert parsed.findings == []
    assert parsed.documents[0].value["a2"] == [[["lol"] * 3] * 3] * 3


@pytest.mark.parametrize("text", ["&a [*a]\n", "top:\n  loop: &a {self: *a}\n"])
def test_recursive_alias_is_one_finding(text):
    finding = only_finding(parse_text(text))
    assert finding.message == "recursive YAML alias"


def test_file_over_max_file_bytes():
    finding = only_finding(parse_text("a: 1\n" * 10, limits=Limits(max_file_bytes=20)))
    assert finding.line == 1
    assert finding.message == (
        "file is over the 20-byte limit (raise max_file_bytes in the config, or exclude the file)"
    )


def test_too_many_documents():
    parsed = parse_text("---\na: 1\n" * 5, limits=Limits(max_documents=3))

    finding = only_finding(parsed)
    assert finding.message == "more than 3 documents in one file (raise max_documents in the config, or split the file)"


def test_exactly_max_documents_is_fine():
    parsed = parse_text("---\na: 1\n" * 3, limits=Limits(max_documents=3))
    assert parsed.findings == []
    assert len(parsed.documents) == 3


def test_deep_block_nesting():
    text = "root:\n" + "".join("  " * depth + f"k{depth}:\n" for depth in range(1, 110)) + "  " * 110 + "x\n"
    finding = only_finding(parse_text(text))

    assert finding.message == "nesting deeper than 100 levels"
    assert finding.line == 101  # the mapping that is one level too deep


def test_deep_flow_nesting():
    finding = only_finding(parse_text("[" * 150 + "]" * 150))
    assert (finding.line, finding.message) == (1, "nesting deeper than 100 levels")


def test_nesting_at_the_limit_is_accepted():
    parsed = parse_text("[" * 100 + "]" * 100)
    assert parsed.findings == []


def test_deep_nesting_through_an_alias_is_caught():
    text = "deep: &d " + "[" * 60 + "1" + "]" * 60 + "\nmore: " + "[" * 60 + "*d" + "]" * 60 + "\n"
    finding = only_finding(parse_text(text))
    assert finding.message == "nesting deeper than 100 levels"


def test_hundred_thousand_brackets_rejected_by_libyaml():
    finding = only_finding(parse_text("[" * 100_000))
    assert finding.line == 1
    assert finding.message.startswith("invalid YAML at line 1 column ")
    assert finding.message.endswith(": exceeded maximum nesting depth")


def test_hundred_thousand_brackets_in_json_file():
    finding = only_finding(parse_text("[" * 100_000 + "]" * 100_000, path="deep.json"))
    assert (finding.line, finding.message) == (1, "nesting deeper than 100 levels")


def test_deep_nesting_in_json_file_is_not_accepted():
    finding = only_finding(parse_text("[" * 150 + "]" * 150, path="deep.json"))
    assert finding.message == "nesting deeper than 100 levels"


def test_deep_nesting_after_a_full_constructor_tag_is_not_accepted():
    finding = only_finding(parse_text("a: !!set {x}\nb: " + "[" * 150 + "]" * 150 + "\n"))
    assert finding.message == "nesting deeper than 100 levels"


def test_bad_utf8_names_the_line_of_the_bad_byte():
    finding = only_finding(parse("bad.yaml", b"a: 1\nb: 2\nc: \xff\xfe\n"))
    assert finding.line == 3
    assert finding.message == "invalid UTF-8 at byte 13: save the file as UTF-8"


def test_binary_file():
    finding = only_finding(parse("blob.yaml", b"a: 1\n\x00\x01\x02binary"))
    assert finding.line == 1
    assert finding.message == "binary file, not YAML or JSON (exclude it with --exclude)"


def test_invalid_yaml_has_line_and_column_from_the_parser():
    finding = only_finding(parse_text("ok: 1\na: [1,\nb: 2\n"))
    assert finding.line == 4
    assert finding.message == "invalid YAML at line 4 column 1: did not find expected ',' or ']'"


def test_invalid_yaml_keeps_the_documents_before_it():
    parsed = parse_text("kind: Good\n---\nkey: value: other\n")
    finding = only_finding(parsed)
    assert finding.line == 3
    assert finding.message.startswith("invalid YAML at line 3 column ")
    assert [d.value for d in parsed.documents] == [{"kind": "Good"}]


def test_unknown_tag():
    finding = only_finding(parse_text("Resources:\n  Arn: !Ref Bucket\n"))
    assert finding.line == 2
    assert finding.message == "invalid YAML at line 2 column 8: could not determine a constructor for the tag '!Ref'"


# --- field paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "text"),
    [
        (("spec", "containers", 0, "image"), "spec.containers[0].image"),
        (("metadata", "labels", "app.kubernetes.io/name"), 'metadata.labels["app.kubernetes.io/name"]'),
        (("metadata", "annotations", 'say "hi"'), 'metadata.annotations["say \\"hi\\""]'),
        (("a", "back\\slash"), 'a["back\\\\slash"]'),
        (("data", "config.yaml"), 'data["config.yaml"]'),
        (("x-kubernetes", "$ref", "_under"), "x-kubernetes.$ref._under"),
        (("has space", "9lives", ""), '["has space"]["9lives"][""]'),
        ((0, "kind"), "[0].kind"),
        (("items", 3, 1), "items[3][1]"),
        (("ünïcode",), '["\\u00fcn\\u00efcode"]'),
        ((), ""),
    ],
)
def test_format_field_and_parse_field_round_trip(field, text):
    assert format_field(field) == text
    assert parse_field(text) == field


def test_parse_field_stops_at_what_it_cannot_read():
    assert parse_field("spec.containers[x].image") == ("spec", "containers")


# --- collect ----------------------------------------------------------------------------------------


def touch(path, text: str = "kind: A\n") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


@pytest.fixture
def tree(tmp_path):
    for name in [
        "b/deploy.yaml",
        "a/z.yml",
        "a/sub/svc.json",
        "a/sub/skip-me.yaml",
        "a/README.md",
        "a/kustomization.txt",
        ".git/config.yaml",
        "a/.cache/x.yaml",
        "top.yaml",
    ]:
        touch(tmp_path / name)
    return tmp_path


def relative(sources, root) -> list[str]:
    return [os.path.relpath(s.path, root).replace(os.sep, "/") for s in sources]


def test_collect_walks_directories_recursively_sorted_skipping_hidden_dirs(tree):
    sources = collect([str(tree)])

    assert relative(sources, tree) == ["a/sub/skip-me.yaml", "a/sub/svc.json", "a/z.yml", "b/deploy.yaml", "top.yaml"]
    assert all(s.data is None for s in sources)


def test_collect_exclude_by_basename_glob(tree):
    sources = collect([str(tree)], exclude=["skip-*.yaml", "*.json"])
    assert relative(sources, tree) == ["a/z.yml", "b/deploy.yaml", "top.yaml"]


def test_collect_exclude_by_path_glob(tree):
    sources = collect([str(tree)], exclude=[f"{tree.as_posix()}/a/sub/*"])
    assert relative(sources, tree) == ["a/z.yml", "b/deploy.yaml", "top.yaml"]


def test_collect_named_files_kept_in_argument_order_and_excludable(tree):
    named = [str(tree / "top.yaml"), str(tree / "a" / "README.md"), str(tree / "b" / "deploy.yaml")]
    assert relative(collect(named), tree) == ["top.yaml", "a/README.md", "b/deploy.yaml"]
    assert relative(collect(named, exclude=["deploy.*"]), tree) == ["top.yaml", "a/README.md"]


def test_collect_missing_path_raises_with_its_name(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(FileNotFoundError) as info:
        collect([str(tmp_path), missing])
    assert str(info.value) == missing


def test_source_read_from_disk_stops_one_byte_over_the_limit(tmp_path):
    path = touch(tmp_path / "big.yaml", "a: 1\n" * 100)
    limits = Limits(max_file_bytes=10)

    data = Source(path).read(limits)

    assert data == b"a: 1\na: 1\na"
    assert parse(path, data, limits).findings[0].message.startswith("file is over the 10-byte limit")
    assert Source("<stdin>", b"given").read(limits) == b"given"
