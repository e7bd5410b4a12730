"""Schema registry: bundled Kubernetes schemas, schema directories, CRDs in the checked set.

Lookup order for a document: a path-glob mapping from config, then a schema
from a CRD or a schema directory (matched by group, version and kind), then
the bundled Kubernetes schema for built-in API groups.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import json
import os
import re
from collections.abc import Iterable
import importlib.util
from typing import Any

import jsonschema_rs

from auditsvc.errors import SchemaError
from auditsvc.manifests import Document, format_field, parse
from auditsvc.model import Finding

GVK = tuple[str, str, str]  # (group, version, kind); group "" is the core API


def bundled_schema_root() -> str:
    # Located without importing kubernetes_validate: its import pulls in jsonschema (~0.2 s of hook start-up).
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise SchemaError("the kubernetes-validate package (bundled Kubernetes schemas) is not installed")
    return os.path.join(spec.submodule_search_locations[0], "kubernetes-json-schema")


def bundled_kubernetes_versions() -> list[str]:
    """Kubernetes minor versions with bundled schemas, oldest first, e.g. ["1.25", ..., "1.37"]."""
    found = set()
    for name in os.listdir(bundled_schema_root()):
        match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local", name)
        if match:
            found.add((int(match[1]), int(match[2])))
    return [f"{major}.{minor}" for major, minor in sorted(found)]


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _is_builtin_group(group: str) -> bool:
    return group == "" or "." not in group or group.endswith(".k8s.io")


def crd_schemas(crd: dict[str, Any], strict: bool) -> dict[GVK, dict[str, Any]]:
    """JSON Schemas for the kinds a CustomResourceDefinition declares, one per served version."""
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return {}
    group = str(spec.get("group", ""))
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    kind = str(names.get("kind", ""))
    top_level = (spec.get("validation") or {}).get("openAPIV3Schema")  # apiextensions v1beta1
    out: dict[GVK, dict[str, Any]] = {}
    versions = spec.get("versions") or ([{"name": spec["version"]}] if spec.get("version") else [])
    for version in versions:
        if not isinstance(version, dict) or not version.get("name"):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema") or top_level
        if isinstance(schema, dict) and kind:
            out[(group, str(version["name"]), kind)] = openapi_to_json_schema(schema, strict)
    return out


def openapi_to_json_schema(schema: dict[str, Any], strict: bool) -> dict[str, Any]:
    """A CRD's OpenAPI v3 structural schema as a JSON Schema (draft 4) with Kubernetes semantics."""
    root = _convert(copy.deepcopy(schema), strict)
    properties = root.setdefault("properties", {})
    # Every object carries these even when the CRD author left them out.
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties.setdefault("metadata", {"type": "object"})
    root["$schema"] = "http://json-schema.org/draft-04/schema#"
    return root


def _convert(node: Any, strict: bool) -> Any:
    if isinstance(node, list):
        return [_convert(item, strict) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _convert(value, strict) for key, value in node.items()}
    if node.pop("x-kubernetes-int-or-string", False):
        node.pop("type", None)
        node.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.pop("nullable", False) and "type" in node:
        node["type"] = [node["type"], "null"]
    preserve = node.pop("x-kubernetes-preserve-unknown-fields", False)
    embedded = node.pop("x-kubernetes-embedded-resource", False)
    if embedded:
        props = node.setdefault("properties", {})
        for name in ("apiVersion", "kind"):
            props.setdefault(name, {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if strict and not preserve and "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


def _schema_file_gvks(path: str, schema: dict[str, Any]) -> list[GVK]:
    """Which kinds a schema file in a schema directory describes."""
    declared = schema.get("x-kubernetes-group-version-kind")
    if isinstance(declared, list) and declared:
        return [(d.get("group", ""), d.get("version", ""), d.get("kind", "")) for d in declared if isinstance(d, dict)]
    stem = os.path.splitext(os.path.basename(path))[0]
    # CRDs-catalog layout: <group>/<kind>_<version>.json; flat: <kind>_<version>.json
    match = re.fullmatch(r"([a-z0-9]+)_([a-z0-9]+)", stem, re.IGNORECASE)
    if match:
        group = os.path.basename(os.path.dirname(path)) if "." in os.path.basename(os.path.dirname(path)) else "*"
        # File names carry the kind in lower case; lookups fall back to the lower-case kind.
        return [(group, match[2], match[1].lower())]
    return []


class SchemaRegistry:
    """Finds and compiles (once, lazily) the schema for each document."""

    def __init__(
        self,
        kubernetes_version: str | None = None,
        strict: bool = True,
        schema_dirs: Iterable[str] = (),
        path_schemas: dict[str, str] | None = None,
        reject_missing: bool = False,
    ) -> None:
        versions = bundled_kubernetes_versions()
        self.kubernetes_version = kubernetes_version or versions[-1]
        if self.kubernetes_version not in versions:
            raise SchemaError(
                f"no bundled schemas for Kubernetes {self.kubernetes_version}: choose one of {', '.join(versions)}"
            )
        self.strict = strict
        self.reject_missing = reject_missing
        self._custom: dict[GVK, dict[str, Any]] = {}
        self._path_schemas: list[tuple[str, dict[str, Any]]] = []
        self._validators: dict[Any, Any] = {}
        for directory in schema_dirs:
            self._load_dir(directory)
        for pattern, schema_path in (path_schemas or {}).items():
            self._path_schemas.append((pattern, self._read_schema(schema_path)))

    @functools.cached_property
    def _bundled_dir(self) -> str:
        suffix = "-strict" if self.strict else ""
        return os.path.join(bundled_schema_root(), f"v{self.kubernetes_version}.0-local{suffix}")

    @staticmethod
    def _read_schema(path: str) -> dict[str, Any]:
        try:
            with open(path, "rb") as handle:
                parsed = parse(path, handle.read())
        except OSError as err:
            raise SchemaError(f"cannot read schema {path}: {err.strerror}") from None
        if parsed.findings:
            raise SchemaError(f"{parsed.findings[0].location}: {parsed.findings[0].message}")
        if len(parsed.documents) != 1 or not isinstance(parsed.documents[0].value, dict):
            raise SchemaError(f"{path}: a schema file must hold exactly one JSON/YAML object")
        return parsed.documents[0].value

    def _load_dir(self, directory: str) -> None:
        if not os.path.isdir(directory):
            raise SchemaError(f"schema directory {directory} does not exist")
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.endswith((".json", ".yaml", ".yml")):
                    continue
                path = os.path.join(root, name)
                with open(path, "rb") as handle:
                    parsed = parse(path, handle.read())
                if parsed.findings:
                    raise SchemaError(f"{parsed.findings[0].location}: {parsed.findings[0].message}")
                crds = [d.value for d in parsed.documents if is_crd(d.value)]
                if crds:
                    self.add_crds(crds)
                    continue
                for document in parsed.documents:
                    if isinstance(document.value, dict):
                        for gvk in _schema_file_gvks(path, document.value):
                            self._custom[gvk] = document.value

    def add_crds(self, crds: Iterable[dict[str, Any]]) -> None:
        """Let the custom resources of these CRDs be validated against their own schemas."""
        for crd in crds:
            self._custom.update(crd_schemas(crd, self.strict))

    @property
    def custom_kinds(self) -> dict[GVK, dict[str, Any]]:
        return dict(self._custom)

    def _custom_schema(self, group: str, version: str, kind: str) -> dict[str, Any] | None:
        for key in ((group, version, kind), (group, version, kind.lower()), ("*", version, kind.lower())):
            if key in self._custom:
                return self._custom[key]
        return None

    @functools.lru_cache(maxsize=None)  # noqa: B019 - one registry per run; kinds are few
    def _bundled_file(self, group: str, version: str, kind: str) -> str | None:
        if not _is_builtin_group(group):
            return None
        group_part = f"-{group.split('.')[0]}" if group else ""
        path = os.path.join(self._bundled_dir, f"{kind.lower()}{group_part}-{version}.json")
        return path if os.path.exists(path) else None

    @functools.cached_property
    def _bundled_registry(self) -> Any:
        with open(os.path.join(self._bundled_dir, "_definitions.json"), "rb") as handle:
            definitions = json.load(handle)
        return jsonschema_rs.Registry([(definitions["$id"], definitions)])

    def validator_for(self, document: Document) -> Any | None:
        """Compiled validator for the document, or None when no schema applies."""
        for pattern, schema in self._path_schemas:
            if fnmatch.fnmatch(document.path, pattern):
                return self._compiled(("path", pattern), lambda s=schema: jsonschema_rs.validator_for(s))
        value = document.value
        api_version = str(value.get("apiVersion") or "")
        kind = str(value.get("kind") or "")
        if not api_version or not kind:
            return None
        group, version = split_api_version(api_version)
        custom = self._custom_schema(group, version, kind)
        if custom is not None:
            return self._compiled(("custom", group, version, kind), lambda: jsonschema_rs.Draft4Validator(custom))
        bundled = self._bundled_file(group, version, kind)
        if bundled is None:
            return None

        def compile_bundled() -> Any:
            with open(bundled, "rb") as handle:
                schema = json.load(handle)
            declared = schema.get("x-kubernetes-group-version-kind") or []
            if {"group": group, "version": version, "kind": kind} not in declared:
                return False  # same file name, another API group (e.g. apps.example.k8s.io)
            return jsonschema_rs.validator_for(schema, registry=self._bundled_registry)

        return self._compiled(("bundled", group, version, kind), compile_bundled) or None

    def _compiled(self, key: Any, build: Any) -> Any:
        validator = self._validators.get(key)
        if validator is None:
            try:
                validator = self._validators[key] = build()
            except (ValueError, jsonschema_rs.ReferencingError) as err:
                what = f"path glob {key[1]}" if key[0] == "path" else "/".join(k for k in key[1:] if k)
                raise SchemaError(f"the schema for {what} does not compile: {str(err).splitlines()[0]}") from None
        return validator

    def validate(self, document: Document) -> list[Finding]:
        if not isinstance(document.value, dict):
            return [
                Finding(
                    "schema",
                    "deny",
                    f"document is a {type(document.value).__name__}, not an object: a manifest is a mapping",
                    document.path,
                    document.line,
                )
            ]
        resource = str(document.key)
        validator = self.validator_for(document)
        if validator is None:
            value = document.value
            what = (
                f"kind {value.get('kind')} ({value.get('apiVersion')})"
                if value.get("kind") and value.get("apiVersion")
                else "a document without apiVersion/kind"
            )
            return [
                Finding(
                    "schema-missing",
                    "deny" if self.reject_missing else "warn",
                    f"no schema for {what}: add its CRD or a schema with --schemas, or exclude the file",
                    document.path,
                    document.line,
                    resource,
                )
            ]
        if validator.is_valid(document.value):
            return []
        findings = []
        for error in validator.iter_errors(document.value):
            field = list(error.instance_path)
            unexpected = getattr(error.kind, "unexpected", None)
            if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties) and unexpected:
                field.append(unexpected[0])
            message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
            where = format_field(error.instance_path)
            findings.append(
                Finding(
                    "schema",
                    "deny",
                    f"{where}: {message}" if where else message,
                    document.path,
                    document.line_of(tuple(field)),
                    resource,
                    format_field(field),
                )
            )
        return findings


def is_crd(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("kind") == "CustomResourceDefinition"
        and str(value.get("apiVersion", "")).startswith("apiextensions.k8s.io/")
    )
