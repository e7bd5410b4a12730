"""Flux event parsing: revisions in every form senders use, timestamps, bad payloads."""

from __future__ import annotations

import pytest

from auditsvc.errors import ConfigError
from auditsvc.flux import FluxEvent, parse_revision, revision_of

SHA = "3f2a1c9e" * 5


@pytest.mark.parametrize(
    ("revision", "commit"),
    [
        (f"main@sha1:{SHA}", SHA),
        (f"refs/heads/release/1.2@sha1:{SHA}", SHA),
        (f"sha1:{SHA}", SHA),
        (f"main/{SHA}", SHA),
        (f"release/1.2/{SHA}", SHA),
        (SHA, SHA),
        (f"MAIN@SHA1:{SHA.upper()}", SHA),
        ("6.5.0", None),  # a HelmRelease's chart version
        ("latest@sha256:" + "ab" * 32, None),  # an OCI artifact digest, not a commit
        (f"main@sha1:{SHA[:12]}", None),
        ("", None),
    ],
)
def test_revisions(revision: str, commit: str | None) -> None:
    assert parse_revision(revision) == commit


def test_the_revision_key_of_older_controllers() -> None:
    assert revision_of({"kustomize.toolkit.fluxcd.io/revision": f"main/{SHA}"}) == f"main/{SHA}"
    assert revision_of({"revision": "a", "helm.toolkit.fluxcd.io/revision": "b"}) == "a"
    assert revision_of({"summary": "x"}) == ""


def test_timestamps_become_utc_and_a_missing_namespace_is_empty() -> None:
    payload = {
        "involvedObject": {"kind": "HelmRelease", "name": "podinfo"},
        "timestamp": "2026-01-31T13:00:00+01:00",
        "metadata": {"revision": "6.5.0"},
        "message": "Helm upgrade succeeded",
    }
    event = FluxEvent.from_payload(payload, "prod")
    assert (event.reported_at, event.namespace, event.severity, event.commit) == ("2026-01-31T12:00:00Z", "", "info", None)
    draft = event.draft("deploy", None)
    assert draft.natural_key == "deploy:prod:HelmRelease//podinfo:6.5.0::2026-01-31T12:00:00Z"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "a Flux event is a JSON object"),
        ({"involvedObject": {"kind": "Kustomization"}}, "no involvedObject with kind and name"),
        ({"involvedObject": {"kind": "K", "name": "n"}}, "no timestamp"),
        ({"involvedObject": {"kind": "K", "name": "n"}, "timestamp": "yesterday"}, "not ISO-8601"),
    ],
)
def test_bad_payloads(payload: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FluxEvent.from_payload(payload, "prod")
