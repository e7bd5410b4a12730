"""auditsvc.schemas: bundled Kubernetes schemas, CRDs, schema directories and path globs."""

from __future__ import annotations

import json

import pytest

from auditsvc.errors import SchemaError
from auditsvc.manifests import Document, parse
from auditsvc.schemas import SchemaRegistry, bundled_kubernetes_versions, crd_schemas, is_crd, split_api_version

GOOD_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: nginx:1.25
          ports:
            - containerPort: 8080
"""

WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size:
                  type: string
                  enum: [small, large]
                port:
                  x-kubernetes-int-or-string: true
                extra:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
                note:
                  type: string
                  nullable: true
"""

WIDGET = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n"  # spec on line 5


def doc(text: str, path: str = "m.yaml") -> Document:
    parsed = parse(path, text.encode())
    assert parsed.findings == []
    [document] = parsed.documents
    return document


def summary(findings) -> list[tuple[str, str, int, str, str]]:
    return [(f.rule, f.severity, f.line, f.field, f.message) for f in findings]


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry()


@pytest.fixture(scope="module")
def widget_registry() -> SchemaRegistry:
    registry = SchemaRegistry()
    registry.add_crds([d.value for d in parse("crd.yaml", WIDGET_CRD.encode()).documents])
    return registry


# --- bundled Kubernetes schemas ---------------------------------------------------------------------


def test_bundled_versions_include_125_and_newer_sorted():
    versions = bundled_kubernetes_versions()
    assert versions[0] == "1.25"
    assert {"1.25", "1.26", "1.30"} <= set(versions)
    as_numbers = [tuple(int(p) for p in v.split(".")) for v in versions]
    assert as_numbers == sorted(as_numbers)
    assert len(versions) >= 6


def test_default_version_is_the_newest_bundled(registry):
    assert registry.kubernetes_version == bundled_kubernetes_versions()[-1]


def test_unknown_kubernetes_version_lists_the_bundled_ones():
    with pytest.raises(SchemaError) as info:
        SchemaRegistry(kubernetes_version="1.3")
    assert str(info.value) == (
        f"no bundled schemas for Kubernetes 1.3: choose one of {', '.join(bundled_kubernetes_versions())}"
    )


def test_good_deployment_is_valid(registry):
    document = doc(GOOD_DEPLOYMENT)
    assert registry.validator_for(document) is not None
    assert registry.validate(document) == []


def test_good_deployment_is_valid_for_an_older_version():
    assert SchemaRegistry(kubernetes_version="1.25").validate(doc(GOOD_DEPLOYMENT)) == []


def test_strict_rejects_unknown_field_at_its_line_with_field_path(registry):
    text = GOOD_DEPLOYMENT.replace("          image: nginx:1.25\n", "          image: nginx:1.25\n          bogus: 1\n")
    assert text.splitlines()[16] == "          bogus: 1"

    [finding] = registry.validate(doc(text, "deploy.yaml"))

    assert finding.rule == "schema"
    assert finding.severity == "deny"
    assert finding.location == "deploy.yaml:17"
    assert finding.resource == "Deployment/shop/web"
    assert finding.field == "spec.template.spec.containers[0].bogus"
    assert finding.message == (
        "spec.template.spec.containers[0]: Additional properties are not allowed ('bogus' was unexpected)"
    )


def test_wrong_type_has_the_line_of_the_value(registry):
    [finding] = registry.validate(doc(GOOD_DEPLOYMENT.replace("replicas: 3", 'replicas: "3"')))

    assert (finding.rule, finding.line, finding.field) == ("schema", 7, "spec.replicas")
    assert finding.message == 'spec.replicas: "3" is not of types "null", "integer"'


def test_non_strict_accepts_unknown_field_but_not_wrong_types():
    lax = SchemaRegistry(strict=False)
    unknown = GOOD_DEPLOYMENT.replace("  replicas: 3\n", "  replicas: 3\n  bogus: true\n")
    assert lax.validate(doc(unknown)) == []
    assert summary(lax.validate(doc(GOOD_DEPLOYMENT.replace("replicas: 3", "replicas: many")))) == [
        ("schema", "deny", 7, "spec.replicas", 'spec.replicas: "many" is not of types "null", "integer"')
    ]


def test_bundled_schema_in_a_list_item_reports_absolute_lines(registry):
    text = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        ("    " if i else "  - ") + line + "\n" for i, line in enumerate(GOOD_DEPLOYMENT.splitlines())
    )
    text = text.replace("replicas: 3", 'replicas: "3"')
    [document] = parse("list.yaml", text.encode()).documents

    [finding] = registry.validate(document)
    assert (finding.line, finding.field) == (10, "spec.replicas")


def test_missing_schema_is_a_warning(registry):
    [finding] = registry.validate(doc("apiVersion: acme.io/v1\nkind: Rocket\nmetadata: {name: r}\n", "r.yaml"))

    assert (finding.rule, finding.severity, finding.location, finding.resource) == (
        "schema-missing",
        "warn",
        "r.yaml:1",
        "Rocket/r",
    )
    assert finding.message == (
        "no schema for kind Rocket (acme.io/v1): add its CRD or a schema with --schemas, or exclude the file"
    )


def test_missing_schema_is_denied_with_reject_missing():
    [finding] = SchemaRegistry(reject_missing=True).validate(doc("apiVersion: acme.io/v1\nkind: Rocket\n"))
    assert (finding.rule, finding.severity) == ("schema-missing", "deny")


def test_document_without_apiversion_or_kind_has_no_schema(registry):
    [finding] = registry.validate(doc("just: data\n"))
    assert finding.rule == "schema-missing"
    assert finding.message == (
        "no schema for a document without apiVersion/kind: add its CRD or a schema with --schemas, or exclude the file"
    )


@pytest.mark.parametrize(
    ("text", "type_name"),
    [("- a\n- b\n", "list"), ("just a string\n", "str"), ("42\n", "int")],
)
def test_document_that_is_not_a_mapping_is_denied(registry, text, type_name):
    [finding] = registry.validate(doc("\n" + text, "x.yaml"))
    assert (finding.rule, finding.severity, finding.location) == ("schema", "deny", "x.yaml:2")
    assert finding.message == f"document is a {type_name}, not an object: a manifest is a mapping"


def test_bundled_schema_not_used_for_a_non_builtin_group_with_a_builtin_kind(registry):
    text = GOOD_DEPLOYMENT.replace("apiVersion: apps/v1", "apiVersion: foo.example.com/v1")
    [finding] = registry.validate(doc(text))
    assert (finding.rule, finding.severity) == ("schema-missing", "warn")
    assert "kind Deployment (foo.example.com/v1)" in finding.message


def test_core_and_dotted_builtin_groups_use_bundled_schemas(registry):
    assert registry.validate(doc("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n")) == []
    role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules: []\n"
    assert registry.validate(doc(role)) == []
    [finding] = registry.validate(doc("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: 1}\n"))
    assert (finding.line, finding.field) == (4, "data.k")


def test_unknown_version_of_a_builtin_kind_has_no_schema(registry):
    [finding] = registry.validate(doc(GOOD_DEPLOYMENT.replace("apps/v1", "apps/v1beta9")))
    assert finding.rule == "schema-missing"


# --- CRDs ---------------------------------------------------------------------------------------------


def test_is_crd_and_split_api_version():
    crd = parse("crd.yaml", WIDGET_CRD.encode()).documents[0].value
    assert is_crd(crd)
    assert not is_crd({"kind": "CustomResourceDefinition", "apiVersion": "example.com/v1"})
    assert not is_crd(["not", "a", "mapping"])
    assert split_api_version("apps/v1") == ("apps", "v1")
    assert split_api_version("v1") == ("", "v1")


def test_crd_gives_a_schema_for_its_kind(widget_registry):
    assert set(widget_registry.custom_kinds) == {("example.com", "v1", "Widget")}
    valid = WIDGET + "  size: small\n  port: 80\n  extra: {anything: [1, {x: y}]}\n  note: null\n"
    assert widget_registry.validate(doc(valid)) == []


def test_crd_int_or_string_accepts_both(widget_registry):
    assert widget_registry.validate(doc(WIDGET + "  size: small\n  port: 80\n")) == []
    assert widget_registry.validate(doc(WIDGET + "  size: small\n  port: http\n")) == []
    assert summary(widget_registry.validate(doc(WIDGET + "  size: small\n  port: 1.5\n"))) == [
        (
            "schema",
            "deny",
            7,
            "spec.port",
            "spec.port: 1.5 is not valid under any of the schemas listed in the 'anyOf' keyword",
        )
    ]


def test_crd_preserve_unknown_fields_allows_anything(widget_registry):
    text = WIDGET + "  size: large\n  extra:\n    deeply: {nested: [1, 2]}\n    other: true\n"
    assert widget_registry.validate(doc(text)) == []


def test_crd_nullable(widget_registry):
    assert widget_registry.validate(doc(WIDGET + "  size: small\n  note: null\n")) == []
    assert summary(widget_registry.validate(doc(WIDGET + "  size: small\n  note: 3\n"))) == [
        ("schema", "deny", 7, "spec.note", 'spec.note: 3 is not of types "null", "string"')
    ]


def test_crd_invalid_enum(widget_registry):
    assert summary(widget_registry.validate(doc(WIDGET + "  size: medium\n"))) == [
        ("schema", "deny", 6, "spec.size", 'spec.size: "medium" is not one of "small" or "large"')
    ]


def test_crd_missing_required(widget_registry):
    assert summary(widget_registry.validate(doc(WIDGET + "  port: 1\n"))) == [
        ("schema", "deny", 5, "spec", 'spec: "size" is a required property')
    ]


def test_crd_unknown_field_in_strict_mode(widget_registry):
    assert summary(widget_registry.validate(doc(WIDGET + "  size: small\n  colour: red\n"))) == [
        ("schema", "deny", 7, "spec.colour", "spec: Additional properties are not allowed ('colour' was unexpected)")
    ]


def test_crd_unknown_field_allowed_when_not_strict():
    registry = SchemaRegistry(strict=False)
    registry.add_crds([d.value for d in parse("crd.yaml", WIDGET_CRD.encode()).documents])
    assert registry.validate(doc(WIDGET + "  size: small\n  colour: red\n")) == []
    assert [f.field for f in registry.validate(doc(WIDGET + "  size: huge\n"))] == ["spec.size"]


def test_crd_schema_for_another_version_is_missing(widget_registry):
    [finding] = widget_registry.validate(doc("apiVersion: example.com/v2\nkind: Widget\n"))
    assert finding.rule == "schema-missing"


def test_v1beta1_crd_with_top_level_validation_and_version():
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1beta1",
        "kind": "CustomResourceDefinition",
        "spec": {
            "group": "old.example.com",
            "version": "v1alpha1",
            "names": {"kind": "Gadget"},
            "validation": {
                "openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {"type": "object", "properties": {"count": {"type": "integer"}}}},
                }
            },
        },
    }
    schemas = crd_schemas(crd, strict=True)
    assert list(schemas) == [("old.example.com", "v1alpha1", "Gadget")]
    assert schemas[("old.example.com", "v1alpha1", "Gadget")]["$schema"] == "http://json-schema.org/draft-04/schema#"

    registry = SchemaRegistry()
    registry.add_crds([crd])
    base = "apiVersion: old.example.com/v1alpha1\nkind: Gadget\nmetadata: {name: g}\nspec:\n"
    assert registry.validate(doc(base + "  count: 2\n")) == []
    assert summary(registry.validate(doc(base + "  count: two\n"))) == [
        ("schema", "deny", 5, "spec.count", 'spec.count: "two" is not of type "integer"')
    ]


def test_crd_without_spec_or_kind_gives_nothing():
    assert crd_schemas({"kind": "CustomResourceDefinition"}, strict=True) == {}
    assert crd_schemas({"spec": {"group": "g", "versions": [{"name": "v1", "schema": {"openAPIV3Schema": {}}}]}}, True) == {}


# --- schema directories -------------------------------------------------------------------------------


@pytest.fixture
def schema_dir(tmp_path):
    root = tmp_path / "schemas"
    (root / "crds").mkdir(parents=True)
    (root / "crds" / "widget.yaml").write_text(WIDGET_CRD)
    (root / "thing.json").write_text(
        json.dumps(
            {
                "x-kubernetes-group-version-kind": [{"group": "things.io", "version": "v1", "kind": "Thing"}],
                "type": "object",
                "properties": {"spec": {"type": "object", "properties": {"n": {"type": "integer"}}}},
            }
        )
    )
    (root / "Flat_v2.json").write_text(json.dumps({"type": "object", "required": ["spec"]}))
    (root / "argoproj.io").mkdir()
    (root / "argoproj.io" / "Application_v1alpha1.json").write_text(
        json.dumps({"type": "object", "properties": {"spec": {"type": "object", "required": ["project"]}}})
    )
    (root / ".hidden").mkdir()
    (root / ".hidden" / "Ignored_v1.json").write_text("{}")
    (root / "notes.txt").write_text("not a schema")
    return root


def test_schema_dir_loads_crds_gvk_schemas_and_kind_version_files(schema_dir):
    registry = SchemaRegistry(schema_dirs=[str(schema_dir)])
    assert set(registry.custom_kinds) == {
        ("example.com", "v1", "Widget"),
        ("things.io", "v1", "Thing"),
        ("*", "v2", "flat"),
        ("argoproj.io", "v1alpha1", "application"),
    }


def test_schema_dir_crd_is_matched(schema_dir):
    registry = SchemaRegistry(schema_dirs=[str(schema_dir)])
    assert registry.validate(doc(WIDGET + "  size: small\n")) == []
    assert [f.field for f in registry.validate(doc(WIDGET + "  size: tiny\n"))] == ["spec.size"]


def test_schema_dir_gvk_schema_is_matched(schema_dir):
    registry = SchemaRegistry(schema_dirs=[str(schema_dir)])
    base = "apiVersion: things.io/v1\nkind: Thing\nspec:\n"
    assert registry.validate(doc(base + "  n: 1\n")) == []
    assert summary(registry.validate(doc(base + "  n: x\n"))) == [
        ("schema", "deny", 4, "spec.n", 'spec.n: "x" is not of type "integer"')
    ]


def test_schema_dir_flat_kind_version_file_matches_any_group(schema_dir):
    registry = SchemaRegistry(schema_dirs=[str(schema_dir)])
    assert registry.validate(doc("apiVersion: whatever.io/v2\nkind: Flat\nspec: {}\n")) == []
    assert summary(registry.validate(doc("apiVersion: other.io/v2\nkind: Flat\n"))) == [
        ("schema", "deny", 1, "", '"spec" is a required property')
    ]


def test_schema_dir_group_kind_version_file_matches_its_group(schema_dir):
    registry = SchemaRegistry(schema_dirs=[str(schema_dir)])
    base = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n"
    assert registry.validate(doc(base + "  project: default\n")) == []
    assert summary(registry.validate(doc(base + "  other: 1\n"))) == [
        ("schema", "deny", 3, "spec", 'spec: "project" is a required property')
    ]
    [missing] = registry.validate(doc("apiVersion: elsewhere.io/v1alpha1\nkind: Application\n"))
    assert missing.rule == "schema-missing"


def test_schema_dir_crds_catalog_lowercase_file_name_matches_the_kind(tmp_path):
    (tmp_path / "argoproj.io").mkdir()
    (tmp_path / "argoproj.io" / "application_v1alpha1.json").write_text(
        json.dumps({"type": "object", "properties": {"spec": {"type": "object", "required": ["project"]}}})
    )
    registry = SchemaRegistry(schema_dirs=[str(tmp_path)])

    findings = registry.validate(doc("apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec: {}\n"))

    assert summary(findings) == [("schema", "deny", 3, "spec", 'spec: "project" is a required property')]


def test_missing_schema_dir_is_an_error(tmp_path):
    with pytest.raises(SchemaError) as info:
        SchemaRegistry(schema_dirs=[str(tmp_path / "nope")])
    assert str(info.value) == f"schema directory {tmp_path / 'nope'} does not exist"


def test_unparsable_file_in_schema_dir_names_its_location(tmp_path):
    (tmp_path / "bad.yaml").write_text("a: 1\nb: [\n")
    with pytest.raises(SchemaError) as info:
        SchemaRegistry(schema_dirs=[str(tmp_path)])
    assert str(info.value).startswith(f"{tmp_path / 'bad.yaml'}:3: invalid YAML at line 3")


# --- path_schemas -------------------------------------------------------------------------------------


@pytest.fixture
def values_schema(tmp_path):
    path = tmp_path / "values.schema.json"
    path.write_text(
        json.dumps(
            {
                "type": "object",
                "required": ["replicaCount"],
                "properties": {"replicaCount": {"type": "integer"}, "image": {"type": "string"}},
                "additionalProperties": False,
            }
        )
    )
    return str(path)


def test_path_schema_glob_validates_non_kubernetes_yaml(tmp_path, values_schema):
    registry = SchemaRegistry(path_schemas={"*/charts/*/values.yaml": values_schema})
    path = str(tmp_path / "charts" / "web" / "values.yaml")

    assert registry.validate(doc("replicaCount: 2\nimage: nginx\n", path)) == []
    assert summary(registry.validate(doc("replicaCount: two\nimage: nginx\n", path))) == [
        ("schema", "deny", 1, "replicaCount", 'replicaCount: "two" is not of type "integer"')
    ]
    assert summary(registry.validate(doc("replicaCount: 1\ntag: x\n", path))) == [
        ("schema", "deny", 2, "tag", "Additional properties are not allowed ('tag' was unexpected)")
    ]
    other = str(tmp_path / "other" / "values.yaml")
    assert [f.rule for f in registry.validate(doc("replicaCount: 2\n", other))] == ["schema-missing"]


def test_path_schema_takes_precedence_over_bundled(tmp_path, values_schema):
    registry = SchemaRegistry(path_schemas={"*.yaml": values_schema})
    findings = registry.validate(doc(GOOD_DEPLOYMENT, str(tmp_path / "deploy.yaml")))
    assert summary(findings) == [
        (
            "schema",
            "deny",
            1,
            "apiVersion",  # the first unexpected key locates the finding
            "Additional properties are not allowed ('apiVersion', 'kind', 'metadata', 'spec' were unexpected)",
        ),
        ("schema", "deny", 1, "", '"replicaCount" is a required property'),
    ]


def test_unreadable_path_schema_is_an_error(tmp_path):
    with pytest.raises(SchemaError) as info:
        SchemaRegistry(path_schemas={"*.yaml": str(tmp_path / "missing.json")})
    assert str(info.value) == f"cannot read schema {tmp_path / 'missing.json'}: No such file or directory"


def test_path_schema_that_is_not_one_object_is_an_error(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(SchemaError) as info:
        SchemaRegistry(path_schemas={"*.yaml": str(path)})
    assert str(info.value) == f"{path}: a schema file must hold exactly one JSON/YAML object"


def test_path_schema_that_does_not_compile_is_a_schema_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"type": 5}')
    registry = SchemaRegistry(path_schemas={"*.yaml": str(path)})
    with pytest.raises(SchemaError) as info:
        registry.validate(doc("a: 1\n", str(tmp_path / "x.yaml")))
    assert str(info.value).startswith("the schema for path glob *.yaml does not compile: ")
