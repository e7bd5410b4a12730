"""auditsvc.config.load_settings: defaults < file < AUDITSVC_* environment < flags."""

from __future__ import annotations

import pytest

from auditsvc.config import BUNDLED_POLICIES, BUNDLED_TOKEN, Settings, load_settings
from auditsvc.errors import ConfigError
from auditsvc.manifests import Limits


def write_config(tmp_path, text: str, name: str = "auditsvc.yaml") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_defaults_without_file_or_environment():
    settings = load_settings(environ={})

    assert settings == Settings()
    assert settings.config_path is None
    assert settings.db == "sqlite:///var/auditsvc/audit.db"
    assert settings.policies == (BUNDLED_TOKEN,)
    assert settings.policy_dirs == (BUNDLED_POLICIES,)
    assert settings.kubernetes_version is None
    assert settings.fail_mode == "closed"
    assert settings.strict_schemas is True
    assert settings.fail_on_warn is False
    assert settings.limits == Limits()


def test_file_values(tmp_path):
    path = write_config(
        tmp_path,
        """\
fail_mode: open
fail_on_warn: true
workers: 3
time_budget_seconds: 2
namespaces: [main, extra]
exclude: ["*.tmpl.yaml"]
kubernetes_version: "1.30"
max_documents: 50
overrides: {allowed: [a]}
""",
    )
    settings = load_settings(path, environ={})

    assert settings.config_path == path
    assert settings.fail_mode == "open"
    assert settings.fail_on_warn is True
    assert settings.workers == 3
    assert settings.time_budget_seconds == 2.0 and isinstance(settings.time_budget_seconds, float)
    assert settings.namespaces == ("main", "extra")
    assert settings.exclude == ("*.tmpl.yaml",)
    assert settings.kubernetes_version == "1.30"
    assert settings.overrides == {"allowed": ["a"]}
    assert settings.limits == Limits(max_documents=50)


def test_empty_file_gives_defaults(tmp_path):
    path = write_config(tmp_path, "# nothing yet\n")
    settings = load_settings(path, environ={})
    assert settings == Settings(config_path=path)


def test_relative_paths_resolve_against_the_file_directory(tmp_path):
    path = write_config(
        tmp_path,
        """\
db: sqlite:///state/audit.db
policies: ["@bundled", ./policies, /abs/policies]
schemas: [schemas]
waivers: waivers.yaml
data: [data/allowed.json]
path_schemas: {"*/values.yaml": schemas/values.json}
""",
        name="conf/auditsvc.yaml",
    )
    base = tmp_path.resolve() / "conf"

    settings = load_settings(path, environ={})

    assert settings.db == f"sqlite:///{base}/state/audit.db"
    assert settings.policies == (BUNDLED_TOKEN, str(base / "policies"), "/abs/policies")
    assert settings.policy_dirs == (BUNDLED_POLICIES, str(base / "policies"), "/abs/policies")
    assert settings.schemas == settings.schema_dirs == (str(base / "schemas"),)
    assert settings.waivers == str(base / "waivers.yaml")
    assert settings.data == (str(base / "data" / "allowed.json"),)
    assert settings.path_schemas == {"*/values.yaml": str(base / "schemas" / "values.json")}


@pytest.mark.parametrize("db", ["sqlite:////var/lib/audit.db", "postgresql://db.internal/audit"])
def test_absolute_and_non_sqlite_db_are_kept(tmp_path, db):
    path = write_config(tmp_path, f"db: {db}\n")
    assert load_settings(path, environ={}).db == db


def test_null_waivers_and_kubernetes_version_mean_unset(tmp_path):
    path = write_config(tmp_path, "waivers: null\nkubernetes_version: ~\n")
    settings = load_settings(path, environ={})
    assert (settings.waivers, settings.kubernetes_version) == (None, None)


def test_environment_overrides_file(tmp_path):
    path = write_config(tmp_path, "workers: 2\nfail_on_warn: false\nexclude: [a]\nfail_mode: open\n")
    environ = {
        "AUDITSVC_WORKERS": "4",
        "AUDITSVC_FAIL_ON_WARN": "true",
        "AUDITSVC_EXCLUDE": "x.yaml, y/*,,",
        "AUDITSVC_TIME_BUDGET_SECONDS": "1.5",
        "AUDITSVC_KUBERNETES_VERSION": "1.30",
        "AUDITSVC_POLICIES": "@bundled,local/policies",
    }
    settings = load_settings(path, environ=environ)

    assert settings.workers == 4
    assert settings.fail_on_warn is True
    assert settings.exclude == ("x.yaml", "y/*")
    assert settings.time_budget_seconds == 1.5
    assert settings.kubernetes_version == "1.30"
    assert settings.policies == ("@bundled", "local/policies")  # environment paths stay as given
    assert settings.fail_mode == "open"  # from the file: not in the environment


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("1", True), ("YES", True), ("false", False), ("0", False), ("no", False)]
)
def test_environment_booleans(raw, value):
    assert load_settings(environ={"AUDITSVC_STRICT_SCHEMAS": raw}).strict_schemas is value


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"AUDITSVC_FAIL_ON_WARN": "maybe"}, "AUDITSVC_FAIL_ON_WARN must be true or false, not 'maybe'"),
        ({"AUDITSVC_WORKERS": "four"}, "AUDITSVC_WORKERS must be a number, not 'four'"),
        ({"AUDITSVC_WORKERS": "2.5"}, "AUDITSVC_WORKERS must be a number, not '2.5'"),
        ({"AUDITSVC_TIME_BUDGET_SECONDS": "soon"}, "AUDITSVC_TIME_BUDGET_SECONDS must be a number, not 'soon'"),
        ({"AUDITSVC_FAIL_MODE": "sideways"}, "AUDITSVC_FAIL_MODE: `fail_mode` must be one of closed, open, not 'sideways'"),
        (
            {"AUDITSVC_PATH_SCHEMAS": "*.yaml=s.json"},
            "AUDITSVC_PATH_SCHEMAS: `path_schemas` can only be set in the config file",
        ),
        ({"AUDITSVC_OVERRIDES": "x"}, "AUDITSVC_OVERRIDES: `overrides` can only be set in the config file"),
    ],
)
def test_bad_environment_values(environ, message):
    with pytest.raises(ConfigError) as info:
        load_settings(environ=environ)
    assert str(info.value) == message


def test_unrelated_environment_is_ignored():
    assert load_settings(environ={"AUDITSVC_NOT_A_SETTING": "1", "HOME": "/root"}) == Settings()


def test_flags_beat_environment_and_file(tmp_path):
    path = write_config(tmp_path, "workers: 2\nexclude: [from-file]\nfail_mode: open\n")
    environ = {"AUDITSVC_WORKERS": "4", "AUDITSVC_EXCLUDE": "from-env"}

    settings = load_settings(
        path,
        environ=environ,
        overrides={"workers": 8, "exclude": ("from-flag",), "fail_mode": None, "data": ()},
    )

    assert settings.workers == 8
    assert settings.exclude == ("from-flag",)
    assert settings.fail_mode == "open"  # None: flag not given
    assert settings.data == ()  # (): flag not given


def test_flags_are_checked_too():
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, overrides={"fail_mode": "ajar"})
    assert str(info.value) == "--fail_mode: `fail_mode` must be one of closed, open, not 'ajar'"
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, overrides={"colour": "red"})
    assert str(info.value) == "unknown setting colour"


def test_unknown_key_names_key_and_file_line(tmp_path):
    path = write_config(tmp_path, "workers: 1\n\nfail_on_warns: true\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert message.startswith(f"{path}:3: unknown key `fail_on_warns`; known keys: all_namespaces, allow_protected_delete, ")
    assert "fail_on_warn, " in message
    assert "config_path" not in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("workers: two\n", "`workers` must be an integer, not str ('two')"),
        ("workers: true\n", "`workers` must be an integer, not bool (True)"),
        ("max_depth: 3.5\n", "`max_depth` must be an integer, not float (3.5)"),
        ("fail_on_warn: 1\n", "`fail_on_warn` must be true or false, not int (1)"),
        ("time_budget_seconds: fast\n", "`time_budget_seconds` must be a number, not str ('fast')"),
        ("policies: ./policies\n", "`policies` must be a list, not str ('./policies')"),
        ("policies: [{dir: x}]\n", "`policies` must be a list of strings"),
        ("repositories: [a]\n", "`repositories` must be a mapping, not list (['a'])"),
        ("waivers: [a.yaml]\n", "`waivers` must be a string, not list (['a.yaml'])"),
        ("fail_mode: maybe\n", "`fail_mode` must be one of closed, open, not 'maybe'"),
        ("policy: opa\n", "`policy` must be a mapping, not str ('opa')"),
        ("policy: {engine: wasm}\n", "`policy.engine` must be one of rego, opa, not 'wasm'"),
        ("policy: {engine: opa}\n", "`policy.engine: opa` needs `policy.url`, the OPA server's base URL, like http://127.0.0.1:8181"),
        ("policy: {engine: opa, url: 'http://opa:8181/v1'}\n", "`policy.url` must be the OPA server's base URL, like http://127.0.0.1:8181, not 'http://opa:8181/v1'"),
        ("policy: {mode: pull}\n", "`policy.mode` must be one of push, bundle, not 'pull'"),
        ("policy: {timeout_seconds: -1}\n", "`policy.timeout_seconds` must be a positive number, not -1"),
        ("policy: {host: opa}\n", "unknown key `policy.host`; known keys: engine, url, mode, timeout_seconds"),
    ],
)
def test_wrong_type_names_the_key_and_line(tmp_path, text, message):
    path = write_config(tmp_path, "# settings\n" + text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(info.value) == f"{path}:2: {message}"


def test_policy_engine_defaults_and_opa_settings(tmp_path):
    assert load_settings(environ={}).policy == {"engine": "rego", "url": None, "mode": "push", "timeout_seconds": 2.0}
    path = write_config(tmp_path, "policy: {engine: opa, url: 'https://opa.internal:8181', mode: bundle, timeout_seconds: 1}\n")
    assert load_settings(path, environ={}).policy == {
        "engine": "opa",
        "url": "https://opa.internal:8181",
        "mode": "bundle",
        "timeout_seconds": 1.0,
    }


def test_config_that_is_not_a_mapping(tmp_path):
    path = write_config(tmp_path, "- workers: 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(info.value) == f"{path}:1: the config must be a mapping of keys"


def test_config_that_does_not_parse(tmp_path):
    path = write_config(tmp_path, "workers: 1\nexclude: [a\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(info.value).startswith(f"{path}:3: invalid YAML at line 3 column 1: ")


def test_missing_config_file(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError) as info:
        load_settings(missing, environ={})
    assert str(info.value) == f"cannot read config {missing}: No such file or directory"


def test_auditsvc_config_picks_the_file(tmp_path):
    path = write_config(tmp_path, "workers: 5\n")
    settings = load_settings(environ={"AUDITSVC_CONFIG": path})
    assert (settings.config_path, settings.workers) == (path, 5)


def test_explicit_config_path_beats_auditsvc_config(tmp_path):
    chosen = write_config(tmp_path, "workers: 5\n", name="chosen.yaml")
    other = write_config(tmp_path, "workers: 9\n", name="other.yaml")
    settings = load_settings(chosen, environ={"AUDITSVC_CONFIG": other})
    assert (settings.config_path, settings.workers) == (chosen, 5)


def test_kubernetes_version_as_unquoted_number_with_no_trailing_zero(tmp_path):
    path = write_config(tmp_path, "kubernetes_version: 1.29\n")
    assert load_settings(path, environ={}).kubernetes_version == "1.29"


def test_kubernetes_version_130_unquoted_is_not_silently_13(tmp_path):
    path = write_config(tmp_path, "kubernetes_version: 1.30\n")
    try:
        version = load_settings(path, environ={}).kubernetes_version
    except ConfigError as err:  # refusing it, naming the key, is a fix too
        assert "kubernetes_version" in str(err)
    else:
        assert version == "1.30"
