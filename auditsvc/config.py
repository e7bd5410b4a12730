"""One Settings object: defaults, then auditsvc.yaml, then AUDITSVC_* variables, then flags.

The file comes from --config or AUDITSVC_CONFIG; without one the defaults
apply. Relative paths in the file are relative to the file. Unknown keys and
wrong types are errors that name the key.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from auditsvc.errors import ConfigError
from auditsvc.manifests import Document, Limits, parse

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_POLICIES = str(PACKAGE_ROOT / "policies")
BUNDLED_SCHEMAS = str(PACKAGE_ROOT / "schemas")
BUNDLED_TOKEN = "@bundled"  # names the bundled policy library in `policies` / -p
ENV_PREFIX = "AUDITSVC_"
POLICY_ENGINE_DEFAULTS = {"engine": "rego", "url": None, "mode": "push", "timeout_seconds": 2.0}


@dataclasses.dataclass(frozen=True)
class Settings:
    db: str = "sqlite:///var/auditsvc/audit.db"
    policies: tuple[str, ...] = (BUNDLED_TOKEN,)
    schemas: tuple[str, ...] = ()
    kubernetes_version: str | None = None  # None: newest bundled
    waivers: str | None = None
    protected_refs: tuple[str, ...] = ("refs/heads/main", "refs/heads/master", "refs/heads/release/*")
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=lambda: {"allowed": []})
    fail_mode: str = "closed"
    allow_protected_delete: bool = False
    allow_protected_force_push: bool = False
    pusher_variable: str | None = None  # environment variable naming the authenticated pusher
    time_budget_seconds: float = 4.5
    repositories: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    flux: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    policy: Mapping[str, Any] = dataclasses.field(default_factory=lambda: dict(POLICY_ENGINE_DEFAULTS))
    # service
    state_dir: str | None = None  # mirrors, delivery queue, tokens; default: the audit log's directory
    max_body_bytes: int = 10 * 1024 * 1024  # webhook and validate request bodies
    # check
    namespaces: tuple[str, ...] = ("main",)
    all_namespaces: bool = False
    change_namespaces: tuple[str, ...] = ("change",)  # change-aware rules: one input per resource change of a push
    data: tuple[str, ...] = ()
    disabled_rules: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    path_schemas: Mapping[str, str] = dataclasses.field(default_factory=dict)
    strict_schemas: bool = True
    reject_missing_schemas: bool = False
    fail_on_warn: bool = False
    workers: int = 0  # 0: one per core
    cache_dir: str | None = None  # compiled policy bundles; default $XDG_CACHE_HOME/auditsvc or ~/.cache/auditsvc
    max_file_bytes: int = Limits.max_file_bytes
    max_documents: int = Limits.max_documents
    max_depth: int = Limits.max_depth
    max_nodes: int = Limits.max_nodes
    config_path: str | None = None

    @property
    def limits(self) -> Limits:
        return Limits(self.max_file_bytes, self.max_documents, self.max_depth, self.max_nodes)

    @property
    def policy_dirs(self) -> tuple[str, ...]:
        return tuple(BUNDLED_POLICIES if p == BUNDLED_TOKEN else p for p in self.policies)

    @property
    def schema_dirs(self) -> tuple[str, ...]:
        return self.schemas

    @property
    def service_dir(self) -> Path:
        """Where the service keeps its mirrors, delivery queue and tokens."""
        if self.state_dir:
            return Path(self.state_dir)
        if not self.db.startswith("sqlite:"):
            raise ConfigError("state_dir is not set: with a database server as db, name a local directory for the service")
        from auditsvc.audit.sqlite import path_from_url

        return path_from_url(self.db).parent


_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "config_path"}
_PATH_LISTS = {"policies", "schemas", "data"}
_PATHS = {"waivers", "cache_dir", "state_dir"}
_CHOICES = {"fail_mode": ("closed", "open")}
_OPTIONAL_STRINGS = ("kubernetes_version", "waivers", "pusher_variable", "cache_dir", "state_dir")


def default_cache_dir() -> str:
    """$XDG_CACHE_HOME/auditsvc, else ~/.cache/auditsvc."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "auditsvc")


def _expected_type(name: str) -> type | tuple[type, ...]:
    default = Settings()
    value = getattr(default, name)
    if name in _OPTIONAL_STRINGS:
        return str
    if isinstance(value, bool):
        return bool
    if isinstance(value, float):
        return (int, float)
    if isinstance(value, int):
        return int
    if isinstance(value, tuple):
        return list
    if isinstance(value, Mapping):
        return dict
    return str


def _coerce(name: str, value: Any, origin: str, base: Path | None) -> Any:
    expected = _expected_type(name)
    if name == "kubernetes_version" and isinstance(value, (int, float)):
        value = str(value)  # 1.30 written unquoted
    if value is None and name in _OPTIONAL_STRINGS:
        return None
    ok = isinstance(value, expected) and not (expected in (int, (int, float)) and isinstance(value, bool))
    if not ok:
        names = {"str": "a string", "int": "an integer", "bool": "true or false", "list": "a list", "dict": "a mapping"}
        wanted = names.get(expected.__name__, expected.__name__) if isinstance(expected, type) else "a number"
        raise ConfigError(f"{origin}: `{name}` must be {wanted}, not {type(value).__name__} ({value!r})")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ConfigError(f"{origin}: `{name}` must be one of {', '.join(_CHOICES[name])}, not {value!r}")
    if isinstance(value, list):
        if not all(isinstance(v, (str, int, float)) for v in value):
            raise ConfigError(f"{origin}: `{name}` must be a list of strings")
        value = tuple(str(v) for v in value)
        if name in _PATH_LISTS and base is not None:
            value = tuple(v if v == BUNDLED_TOKEN else str(base / v) for v in value)
        return value
    if name in _PATHS and base is not None:
        return str(base / value)
    if name == "policy":
        return _policy_engine(value, origin)
    if name == "path_schemas" and base is not None:
        return {pattern: str(base / path) for pattern, path in value.items()}
    if name == "db" and base is not None and value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
        return "sqlite:///" + str(base / value[len("sqlite:///") :])
    return float(value) if expected == (int, float) else value


def _policy_engine(value: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """`policy`: which engine evaluates the Rego policies, e.g. {engine: opa, url: http://127.0.0.1:8181}."""
    out = dict(POLICY_ENGINE_DEFAULTS)
    for key, item in value.items():
        if key not in out:
            raise ConfigError(f"{origin}: unknown key `policy.{key}`; known keys: {', '.join(POLICY_ENGINE_DEFAULTS)}")
        out[key] = item
    choices = {"engine": ("rego", "opa"), "mode": ("push", "bundle")}
    for key, allowed in choices.items():
        if out[key] not in allowed:
            raise ConfigError(f"{origin}: `policy.{key}` must be one of {', '.join(allowed)}, not {out[key]!r}")
    timeout = out["timeout_seconds"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"{origin}: `policy.timeout_seconds` must be a positive number, not {timeout!r}")
    out["timeout_seconds"] = float(timeout)
    url = out["url"]
    if out["engine"] == "opa" and url is None:
        raise ConfigError(f"{origin}: `policy.engine: opa` needs `policy.url`, the OPA server's base URL, like http://127.0.0.1:8181")
    if url is not None:
        try:
            parts = urlsplit(url) if isinstance(url, str) else None
            port_ok = parts is not None and (parts.port or 1) > 0
        except ValueError:
            parts, port_ok = None, False
        if not port_ok or parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise ConfigError(
                f"{origin}: `policy.url` must be the OPA server's base URL, like http://127.0.0.1:8181, not {url!r}"
            )
    return out


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """AUDITSVC_<KEY>: lists comma-separated, booleans true/false, numbers as written."""
    out: dict[str, Any] = {}
    for name in _FIELDS:
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        expected = _expected_type(name)
        value: Any = raw
        if expected is list:
            value = [v.strip() for v in raw.split(",") if v.strip()]
        elif expected is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be true or false, not {raw!r}")
            value = raw.lower() in ("true", "1", "yes")
        elif expected in (int, (int, float)):
            try:
                value = float(raw) if expected != int else int(raw)
            except ValueError:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be a number, not {raw!r}") from None
        elif expected is dict:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()}: `{name}` can only be set in the config file")
        out[name] = _coerce(name, value, ENV_PREFIX + name.upper(), None)
    return out


def _from_file(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            parsed = parse(path, handle.read())
    except OSError as err:
        raise ConfigError(f"cannot read config {path}: {err.strerror}") from None
    if parsed.findings:
        raise ConfigError(f"{parsed.findings[0].location}: {parsed.findings[0].message}")
    if not parsed.documents:
        return {}
    document = parsed.documents[0]
    if not isinstance(document.value, dict):
        raise ConfigError(f"{path}:{document.line}: the config must be a mapping of keys")
    base = Path(path).resolve().parent
    out = {}
    for name, value in document.value.items():
        origin = f"{path}:{document.line_of((name,))}"
        if name not in _FIELDS:
            raise ConfigError(f"{origin}: unknown key `{name}`; known keys: {', '.join(sorted(_FIELDS))}")
        if name == "kubernetes_version" and isinstance(value, float):
            value = _written_text(document, name)  # 1.30 unquoted is the number 1.3: take it as written
        out[name] = _coerce(name, value, origin, base)
    return out


def _written_text(document: Document, key: str) -> str:
    assert document.node is not None
    for key_node, value_node in document.node.value:
        if key_node.value == key:
            return str(value_node.value)
    raise KeyError(key)


def load_settings(
    config_path: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults < file < environment < flags (`overrides`, already typed; None values ignored)."""
    environ = os.environ if environ is None else environ
    path = config_path or environ.get(ENV_PREFIX + "CONFIG")
    values: dict[str, Any] = {}
    if path:
        values.update(_from_file(path))
    values.update(_from_env(environ))
    for name, value in (overrides or {}).items():
        if name not in _FIELDS:
            raise ConfigError(f"unknown setting {name}")
        if value is not None and value != ():
            values[name] = _coerce(name, list(value) if isinstance(value, tuple) else value, f"--{name}", None)
    return Settings(config_path=path, **values)
