"""auditsvc.waivers: loading governed waivers and applying them to findings."""

from __future__ import annotations

import datetime

import pytest

from auditsvc.errors import ConfigError
from auditsvc.model import Finding, ResourceKey, Waiver
from auditsvc.waivers import apply_waivers, load_waivers

TODAY = datetime.date(2026, 6, 15)
DAEMONSET = ResourceKey("apps/v1", "DaemonSet", "kube-system", "node-exporter")


def write(tmp_path, text: str, name: str = "waivers.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def finding(rule: str = "main.deny_privileged", severity: str = "deny", path: str = "clusters/prod/monitoring/ds.yaml",
            key: ResourceKey = DAEMONSET, line: int = 12) -> tuple[Finding, ResourceKey]:
    return Finding(rule, severity, "privileged container", path, line, str(key), "spec.x"), key


def waiver(**fields) -> Waiver:
    values = {"rule": "deny_privileged", "owner": "platform-team", "reason": "needs host metrics",
              "expires": "2027-03-31", "source": "waivers.yaml:1"}
    values.update(fields)
    return Waiver(**values)


# --- load_waivers -------------------------------------------------------------------------------------


def test_load_list_form(tmp_path):
    path = write(
        tmp_path,
        """\
# accepted exceptions
- rule: deny_privileged
  kind: DaemonSet
  namespace: kube-system
  name: node-exporter
  path: "clusters/*/monitoring/*"
  owner: platform-team
  reason: needs host metrics (INC-4411)
  expires: 2027-03-31
- rule: main.deny_latest_tag
  owner: web-team
  reason: migration
  expires: "2026-12-01"
""",
    )
    assert load_waivers(path) == [
        Waiver(
            rule="deny_privileged",
            owner="platform-team",
            reason="needs host metrics (INC-4411)",
            expires="2027-03-31",
            kind="DaemonSet",
            namespace="kube-system",
            name="node-exporter",
            path="clusters/*/monitoring/*",
            source=f"{path}:2",
        ),
        Waiver(
            rule="main.deny_latest_tag",
            owner="web-team",
            reason="migration",
            expires="2026-12-01",
            source=f"{path}:10",
        ),
    ]


def test_load_mapping_form(tmp_path):
    path = write(
        tmp_path,
        "waivers:\n  - rule: a\n    owner: o\n    reason: r\n    expires: 2027-01-01\n"
        "  - {rule: b, owner: o, reason: r, expires: 2027-01-02}\n",
    )
    waivers = load_waivers(path)
    assert [(w.rule, w.expires, w.source, w.kind) for w in waivers] == [
        ("a", "2027-01-01", f"{path}:2", "*"),
        ("b", "2027-01-02", f"{path}:6", "*"),
    ]


def test_load_empty_file(tmp_path):
    assert load_waivers(write(tmp_path, "# none yet\n")) == []


@pytest.mark.parametrize(
    ("entry", "missing"),
    [
        ("{rule: r, reason: x, expires: 2027-01-01}", "owner"),
        ("{rule: r, owner: o, expires: 2027-01-01}", "reason"),
        ("{rule: r, owner: o, reason: x}", "expires"),
        ("{rule: r, owner: '', reason: x, expires: 2027-01-01}", "owner"),
        ("{owner: o}", "rule, reason, expires"),
    ],
)
def test_missing_required_field_names_file_and_line(tmp_path, entry, missing):
    path = write(tmp_path, f"- {{rule: ok, owner: o, reason: r, expires: 2027-01-01}}\n\n- {entry}\n")
    with pytest.raises(ConfigError) as info:
        load_waivers(path)
    assert str(info.value) == (
        f"{path}:3: waiver lacks {missing}: every waiver needs an owner, a reason and an expiry"
    )


@pytest.mark.parametrize("expires", ["2027-02-30", "tomorrow", "31/03/2027", "2027-01-01T10:00:00"])
def test_bad_date(tmp_path, expires):
    path = write(tmp_path, f"waivers:\n- rule: r\n  owner: o\n  reason: x\n  expires: {expires}\n")
    with pytest.raises(ConfigError) as info:
        load_waivers(path)
    assert str(info.value) == f"{path}:2: expires must be a date like 2027-03-31, not {expires!r}"


def test_unknown_key(tmp_path):
    path = write(tmp_path, "- {rule: r, owner: o, reason: x, expires: 2027-01-01, team: z, approver: q}\n")
    with pytest.raises(ConfigError) as info:
        load_waivers(path)
    assert str(info.value) == (
        f"{path}:1: unknown waiver key(s) approver, team; allowed: rule, owner, reason, expires, kind, namespace, name, path"
    )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("- just a string\n", 1, "a waiver is a mapping with rule, owner, reason, expires"),
        ("waivers: none\n", 1, "waivers must be a list of entries (rule, owner, reason, expires)"),
        ("just text\n", 1, "waivers must be a list of entries (rule, owner, reason, expires)"),
    ],
)
def test_bad_shapes(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_waivers(path)
    assert str(info.value) == f"{path}:{line}: {message}"


def test_unparsable_and_missing_files(tmp_path):
    bad = write(tmp_path, "- rule: [\n")
    with pytest.raises(ConfigError) as info:
        load_waivers(bad)
    assert str(info.value).startswith(f"{bad}:2: invalid YAML at line 2")

    missing = str(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError) as info:
        load_waivers(missing)
    assert str(info.value) == f"cannot read waivers file {missing}: No such file or directory"


# --- apply_waivers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule", ["deny_privileged", "main.deny_privileged", "deny_*", "main.deny_*", "*privileged", "*"]
)
def test_live_waiver_waives_by_short_name_namespaced_id_or_glob(rule):
    used = waiver(rule=rule)
    [out] = apply_waivers([finding()], [used], TODAY)

    assert out.waived_by == used
    assert out.outcome == "waived"
    assert (out.rule, out.severity, out.line) == ("main.deny_privileged", "deny", 12)


@pytest.mark.parametrize("rule", ["deny_latest_tag", "other.deny_privileged", "deny_privileged_x", "main"])
def test_waiver_for_another_rule_does_not_waive(rule):
    [out] = apply_waivers([finding()], [waiver(rule=rule)], TODAY)
    assert out.waived_by is None
    assert out.outcome == "failure"


@pytest.mark.parametrize(
    ("fields", "waived"),
    [
        ({"kind": "DaemonSet"}, True),
        ({"kind": "Daemon*"}, True),
        ({"kind": "daemonset"}, False),  # kinds are case-sensitive
        ({"kind": "Deployment"}, False),
        ({"namespace": "kube-*"}, True),
        ({"namespace": "default"}, False),
        ({"name": "node-exporter"}, True),
        ({"name": "node-?xporter"}, True),
        ({"name": "other"}, False),
        ({"path": "clusters/*/monitoring/*"}, True),
        ({"path": "clusters/prod/*"}, True),
        ({"path": "clusters/staging/*"}, False),
        ({"kind": "DaemonSet", "namespace": "kube-system", "name": "node-exporter", "path": "*/ds.yaml"}, True),
        ({"kind": "DaemonSet", "namespace": "kube-system", "name": "other"}, False),
    ],
)
def test_kind_namespace_name_and_path_globs(fields, waived):
    [out] = apply_waivers([finding()], [waiver(**fields)], TODAY)
    assert (out.outcome == "waived") is waived


def test_waiver_expiring_today_still_waives():
    [out] = apply_waivers([finding()], [waiver(expires=TODAY.isoformat())], TODAY)
    assert out.outcome == "waived"


def test_expired_waiver_does_not_waive_and_warns():
    expired = waiver(expires="2026-06-14", owner="platform-team", source="w.yaml:7")
    original, key = finding()

    out = apply_waivers([(original, key)], [expired], TODAY)

    assert out[0] == original
    assert out[0].outcome == "failure"
    assert len(out) == 2
    warning = out[1]
    assert (warning.rule, warning.severity, warning.outcome) == ("waiver-expired", "warn", "warning")
    assert (warning.path, warning.line, warning.resource) == (original.path, original.line, original.resource)
    assert warning.message == (
        "waiver at w.yaml:7 (owner platform-team) expired on 2026-06-14 and no longer waives "
        "main.deny_privileged: fix the resource or ask platform-team to renew it"
    )


def test_live_waiver_wins_over_an_expired_one():
    live = waiver(expires="2030-01-01", source="w.yaml:9")
    out = apply_waivers([finding()], [waiver(expires="2020-01-01"), live], TODAY)
    assert [f.waived_by for f in out] == [live]


def test_expired_waiver_for_another_resource_is_silent():
    out = apply_waivers([finding()], [waiver(expires="2020-01-01", name="someone-else")], TODAY)
    assert [f.rule for f in out] == ["main.deny_privileged"]


def test_parse_findings_are_never_waived():
    key = ResourceKey("", "", "", "")
    parse_finding = Finding("parse", "deny", "invalid YAML at line 1 column 1: x", "bad.yaml", 1)
    out = apply_waivers([(parse_finding, key)], [waiver(rule="*"), waiver(rule="parse", expires="2020-01-01")], TODAY)
    assert out == [parse_finding]


def test_already_waived_findings_are_kept_and_order_is_preserved():
    earlier = waiver(rule="x", source="earlier:1")
    waived, key = finding(rule="main.x")
    waived = Finding(waived.rule, waived.severity, waived.message, waived.path, waived.line, waived.resource,
                     waived.field, earlier)
    warn, warn_key = finding(rule="main.warn_something", severity="warn", line=3)
    other, other_key = finding(rule="main.deny_privileged", line=20)

    out = apply_waivers([(waived, key), (warn, warn_key), (other, other_key)], [waiver(rule="*", expires="2030-01-01")],
                        TODAY)

    assert [(f.rule, f.line, f.outcome) for f in out] == [
        ("main.x", 12, "waived"),
        ("main.warn_something", 3, "waived"),
        ("main.deny_privileged", 20, "waived"),
    ]
    assert out[0].waived_by == earlier


def test_no_waivers_leaves_findings_unchanged():
    items = [finding(), finding(rule="schema", line=4)]
    assert apply_waivers(items, [], TODAY) == [f for f, _ in items]
