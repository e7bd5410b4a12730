"""Bytes -> Documents: YAML/JSON parsing with file/line, List expansion and safe limits.

Hostile input (alias bombs, huge or binary files, bad UTF-8, deep nesting,
too many documents) becomes a Finding in bounded time and memory, never an
exception: the caller decides what a finding means.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import yaml

from auditsvc.model import Finding, ResourceKey

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

FieldPath = tuple[str | int, ...]


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds that keep one hostile file from exhausting time or memory."""

    max_file_bytes: int = 8 * 1024 * 1024
    max_documents: int = 10_000
    max_depth: int = 100
    max_nodes: int = 1_000_000  # per document, counted with aliases expanded


@dataclasses.dataclass(frozen=True, eq=False)
class Document:
    """One resource from a file: where it starts, what it holds, and how to find its lines."""

    path: str
    index: int  # position of the YAML document in the file, from 0
    line: int  # first line of the resource, from 1
    value: Any
    node: yaml.Node | None = None  # root node of the YAML document, for field lines
    prefix: FieldPath = ()  # where this resource sits in the node, e.g. ("items", 2)

    @property
    def key(self) -> ResourceKey:
        return ResourceKey.of(self.value)

    def line_of(self, field: FieldPath) -> int:
        """Line of the deepest existing part of `field`, else the resource's first line."""
        node = self.node
        if node is None:
            return self.line
        line = self.line
        for part in self.prefix + tuple(field):
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode) and _scalar_key(key_node) == str(part):
                        line = key_node.start_mark.line + 1
                        node = value_node
                        break
                else:
                    return line
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")
_FIELD_TOKEN = re.compile(r'\.?([A-Za-z_$][A-Za-z0-9_$-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


def format_field(field: Iterable[str | int]) -> str:
    """("spec", "containers", 0, "image") -> spec.containers[0].image; odd keys quoted."""
    out = []
    for part in field:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.match(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


def parse_field(text: str) -> FieldPath:
    """Inverse of format_field; stops at the first part it cannot read."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _FIELD_TOKEN.match(text, pos)
        if not match:
            break
        name, index, quoted = match.groups()
        if name is not None:
            parts.append(name)
        elif index is not None:
            parts.append(int(index))
        else:
            parts.append(json.loads(f'"{quoted}"'))
        pos = match.end()
    return tuple(parts)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader that yields JSON-compatible values the way Kubernetes reads YAML."""

    _plain_tags: dict[str, str] = {}

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        # A plain scalar's tag depends on its text alone: remember it (keys and values repeat a lot).
        if kind is yaml.ScalarNode and implicit[0]:
            tag = self._plain_tags.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._plain_tags) < 100_000:
                    self._plain_tags[value] = tag
            return tag
        return super().resolve(kind, value, implicit)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        if all(isinstance(k, str) for k in mapping):
            return mapping
        # `on:` / `yes:` keys are booleans in YAML 1.1; JSON keys are strings.
        return {_key_text(k): v for k, v in mapping.items()}

    def construct_yaml_set(self, node: yaml.MappingNode) -> Iterator[dict[str, Any]]:
        data: dict[str, Any] = {}
        yield data
        data.update(dict.fromkeys(self.construct_mapping(node)))


def _scalar_key(node: yaml.ScalarNode) -> str:
    """A mapping key as the loader stores it (`on:` is the key "true")."""
    if node.tag == _STR:
        return node.value
    convert = _SCALARS.get(node.tag)
    return _key_text(convert(node)) if convert else node.value


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


# Timestamps stay strings (JSON has no dates); binary stays its base64 text;
# a plain `=` (YAML 1.1 "value" tag, seen in real CRDs) is the string "=".
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}
_Loader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)
_Loader.add_constructor("tag:yaml.org,2002:binary", yaml.SafeLoader.construct_yaml_str)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
_Loader.add_constructor("tag:yaml.org,2002:set", _Loader.construct_yaml_set)


@dataclasses.dataclass
class Parsed:
    """What one file yielded: resources, and findings about the file itself."""

    documents: list[Document]
    findings: list[Finding]


def _file_finding(path: str, line: int, message: str) -> Finding:
    return Finding(rule="parse", severity="deny", message=message, path=path, line=line)


def parse(path: str, data: bytes, limits: Limits = Limits()) -> Parsed:
    """Parse one file's bytes into documents, never raising for bad input."""
    if len(data) > limits.max_file_bytes:
        return Parsed(
            [],
            [
                _file_finding(
                    path,
                    1,
                    f"file is over the {limits.max_file_bytes}-byte limit "
                    "(raise max_file_bytes in the config, or exclude the file)",
                )
            ],
        )
    if b"\0" in data[:8192]:
        return Parsed([], [_file_finding(path, 1, "binary file, not YAML or JSON (exclude it with --exclude)")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return Parsed([], [_file_finding(path, line, f"invalid UTF-8 at byte {err.start}: save the file as UTF-8")])
    parsed = _parse_yaml(path, text, limits)
    if path.endswith(".json") and parsed.findings and parsed.findings[0].message.startswith("invalid YAML"):
        # libyaml rejects some valid JSON (a tab before the top level): JSON is the file's own format.
        try:
            value = json.loads(text)
        except RecursionError:
            return Parsed([], [_file_finding(path, 1, f"nesting deeper than {limits.max_depth} levels")])
        except ValueError as err:
            return Parsed([], [_file_finding(path, getattr(err, "lineno", 1), f"invalid JSON: {err}")])
        if _depth(value) > limits.max_depth:
            return Parsed([], [_file_finding(path, 1, f"nesting deeper than {limits.max_depth} levels")])
        return Parsed(_expand(Document(path, 0, 1, value)), [])
    return parsed


def _depth(value: Any) -> int:
    """Nesting depth of a JSON value, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _parse_yaml(path: str, text: str, limits: Limits) -> Parsed:
    documents: list[Document] = []
    loader = _Loader(text)
    may_alias = "&" in text  # no anchor, no alias: the expansion check cannot fail
    index = 0
    try:
        while loader.check_node():
            if index >= limits.max_documents:
                return Parsed(
                    documents,
                    [
                        _file_finding(
                            path,
                            1,
                            f"more than {limits.max_documents} documents in one file "
                            "(raise max_documents in the config, or split the file)",
                        )
                    ],
                )
            node = loader.get_node()
            problem = _shape_problem(node, limits) if may_alias else None
            if problem:
                return Parsed(documents, [_file_finding(path, node.start_mark.line + 1, problem)])
            try:
                value = _FastBuilder(limits.max_depth).build(node)
            except _NeedsFullConstructor:
                # PyYAML's constructor has no depth limit of its own.
                problem = None if may_alias else _shape_problem(node, limits)
                if problem:
                    return Parsed(documents, [_file_finding(path, node.start_mark.line + 1, problem)])
                value = loader.construct_document(node)
            if value is not None:
                documents.extend(_expand(Document(path, index, node.start_mark.line + 1, value, node)))
            index += 1
    except _TooDeep as err:
        return Parsed(documents, [_file_finding(path, err.line, f"nesting deeper than {limits.max_depth} levels")])
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else "unknown position"
        line = mark.line + 1 if mark else 1
        problem = err.problem or err.context or "invalid YAML"
        return Parsed(documents, [_file_finding(path, line, f"invalid YAML at {where}: {problem}")])
    except (yaml.YAMLError, RecursionError) as err:
        return Parsed(documents, [_file_finding(path, 1, f"invalid YAML: {err}")])
    finally:
        loader.dispose()
    return Parsed(documents, [])


class _NeedsFullConstructor(Exception):
    """A tag or merge key the fast builder leaves to PyYAML's constructor."""


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_CONSTRUCTOR = _Loader("")  # PyYAML's int/float rules (0x, 0o, 1_000, 1:30, .inf) need an instance


def _yaml_int(node: yaml.ScalarNode) -> int:
    value = node.value
    # YAML 1.1 reads 0644 as octal (file modes): only plain decimals take the shortcut.
    return int(value) if value.isdigit() and (value == "0" or value[0] != "0") else _CONSTRUCTOR.construct_yaml_int(node)


_SCALARS = {
    "tag:yaml.org,2002:int": _yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
    "tag:yaml.org,2002:bool": lambda n: yaml.SafeLoader.bool_values[n.value.lower()],
    "tag:yaml.org,2002:null": lambda n: None,
    "tag:yaml.org,2002:value": lambda n: n.value,
    "tag:yaml.org,2002:timestamp": lambda n: n.value,
    "tag:yaml.org,2002:binary": lambda n: n.value,
}


class _FastBuilder:
    """Nodes -> JSON-compatible values for the plain tags, several times faster than
    PyYAML's generic constructor; anything unusual goes to that constructor."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.seen: dict[int, Any] = {}

    def build(self, node: yaml.Node, depth: int = 1) -> Any:
        if node.__class__ is yaml.ScalarNode:
            if node.tag == _STR:
                return node.value
            convert = _SCALARS.get(node.tag)
            if convert is None:
                raise _NeedsFullConstructor
            return convert(node)
        if depth > self.max_depth:
            raise _TooDeep(node.start_mark.line + 1)
        known = self.seen.get(id(node))
        if known is not None:
            return known
        if node.__class__ is yaml.MappingNode and node.tag == _MAP:
            mapping: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.__class__ is not yaml.ScalarNode or key_node.tag == "tag:yaml.org,2002:merge":
                    raise _NeedsFullConstructor
                key = key_node.value if key_node.tag == _STR else _key_text(self.build(key_node))
                mapping[key] = self.build(value_node, depth + 1)
            self.seen[id(node)] = mapping
            return mapping
        if node.__class__ is yaml.SequenceNode and node.tag == _SEQ:
            sequence = [self.build(item, depth + 1) for item in node.value]
            self.seen[id(node)] = sequence
            return sequence
        raise _NeedsFullConstructor


def _shape_problem(root: yaml.Node, limits: Limits) -> str | None:
    """Alias-expanded size and depth of a node graph, computed without expanding it."""
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    # Iterative post-order walk; a node's size counts its children as often as they are referenced.
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    on_path: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        ident = id(node)
        if depth > limits.max_depth:
            return f"nesting deeper than {limits.max_depth} levels"
        if not isinstance(node, yaml.CollectionNode):
            sizes[ident] = 1
            depths[ident] = 1
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else node.value
        if done:
            on_path.discard(ident)
            sizes[ident] = 1 + sum(sizes[id(c)] for c in children)
            depths[ident] = 1 + max((depths[id(c)] for c in children), default=0)
            if sizes[ident] > limits.max_nodes:
                return (
                    f"document expands to more than {limits.max_nodes} nodes "
                    "(YAML aliases multiply it: an alias bomb?)"
                )
            if depth + depths[ident] - 1 > limits.max_depth:
                return f"nesting deeper than {limits.max_depth} levels"
            continue
        if ident in sizes:
            continue
        if ident in on_path:
            return "recursive YAML alias"
        on_path.add(ident)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)
    return None


def _expand(document: Document) -> list[Document]:
    """A `kind: List` (or *List) document stands for its items."""
    value = document.value
    if not (isinstance(value, dict) and str(value.get("kind", "")).endswith("List") and isinstance(value.get("items"), list)):
        return [document]
    return [
        Document(
            document.path,
            document.index,
            document.line_of(("items", i)),
            item,
            document.node,
            document.prefix + ("items", i),
        )
        for i, item in enumerate(value["items"])
    ]


@dataclasses.dataclass(frozen=True)
class Source:
    """A named input: a file on disk, standard input, or a blob from git."""

    path: str
    data: bytes | None = None  # None: read the file at `path`
    blob: str | None = None  # git blob id: the same blob at the same path has the same findings

    def read(self, limits: Limits) -> bytes:
        if self.data is not None:
            return self.data
        with open(self.path, "rb") as handle:
            # Reading one byte over the limit is enough to report it.
            return handle.read(limits.max_file_bytes + 1)


def is_excluded(path: str, exclude: Iterable[str]) -> bool:
    posix = path.replace(os.sep, "/")
    return any(fnmatch.fnmatch(posix, pattern) or fnmatch.fnmatch(os.path.basename(posix), pattern) for pattern in exclude)


def collect(paths: Iterable[str], exclude: Iterable[str] = ()) -> list[Source]:
    """Files named and manifests found under directories (recursively), sorted, minus excludes.

    "-" is standard input. A missing path raises FileNotFoundError with its name.
    """
    exclude = tuple(exclude)
    sources: list[Source] = []
    for path in paths:
        if path == "-":
            sources.append(Source("<stdin>", sys.stdin.buffer.read()))
        elif os.path.isdir(path):
            found = []
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in files:
                    full = os.path.normpath(os.path.join(root, name))
                    if name.endswith(MANIFEST_SUFFIXES) and not is_excluded(full, exclude):
                        found.append(Source(full))
            sources.extend(sorted(found, key=lambda s: s.path))
        elif os.path.exists(path):
            if not is_excluded(path, exclude):
                sources.append(Source(path))
        else:
            raise FileNotFoundError(path)
    return sources
