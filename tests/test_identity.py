"""Who pushed, per hosting environment; push options and certificates."""

from __future__ import annotations

import getpass

import pytest

from auditsvc.identity import Pusher, push_certificate, push_options, pusher_from_env, repository_name


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GL_USERNAME": "alice", "GL_ID": "user-4"}, Pusher("alice", "gitlab", True, id="user-4")),
        (
            {"GITEA_PUSHER_NAME": "bob", "GITEA_PUSHER_EMAIL": "bob@x", "GITEA_PUSHER_ID": "7"},
            Pusher("bob", "gitea", True, "bob@x", "7"),
        ),
        ({"GITHUB_USER_LOGIN": "carol", "GITHUB_VIA": "git"}, Pusher("carol", "github", True)),
        ({"GL_USER": "dave", "GL_REPO": "gitops"}, Pusher("dave", "gitolite", True)),
        ({"REMOTE_USER": "erin"}, Pusher("erin", "http", True)),
    ],
)
def test_each_host_names_the_authenticated_pusher(env, expected):
    assert pusher_from_env(env) == expected


def test_configured_variable_wins():
    assert pusher_from_env({"SSO_USER": "frank", "REMOTE_USER": "erin"}, "SSO_USER") == Pusher("frank", "config", True)


def test_without_host_variables_the_os_user_is_unauthenticated():
    assert pusher_from_env({}) == Pusher(getpass.getuser(), "os", False)


def test_repository_name_from_host_or_directory(tmp_path):
    assert repository_name({"GL_PROJECT_PATH": "acme/gitops"}, "/x") == "acme/gitops"
    assert repository_name({"GITEA_REPO_USER_NAME": "acme", "GITEA_REPO_NAME": "gitops"}, "/x") == "acme/gitops"
    assert repository_name({}, str(tmp_path / "gitops.git")) == "gitops"


def test_push_options_in_order_and_zero_count():
    assert push_options({"GIT_PUSH_OPTION_COUNT": "2", "GIT_PUSH_OPTION_0": "a=1", "GIT_PUSH_OPTION_1": "override=INC-1: x"}) == (
        "a=1",
        "override=INC-1: x",
    )
    assert push_options({"GIT_PUSH_OPTION_COUNT": "0"}) == ()
    assert push_options({"GIT_PUSH_OPTION_COUNT": "junk"}) == ()


def test_push_certificate_status():
    assert push_certificate({}) is None
    cert = push_certificate(
        {
            "GIT_PUSH_CERT": "abc",
            "GIT_PUSH_CERT_SIGNER": "Alice",
            "GIT_PUSH_CERT_KEY": "SHA256:k",
            "GIT_PUSH_CERT_STATUS": "G",
            "GIT_PUSH_CERT_NONCE_STATUS": "OK",
        }
    )
    assert cert is not None and cert.good and cert.signer == "Alice"
    assert not push_certificate({"GIT_PUSH_CERT": "abc", "GIT_PUSH_CERT_STATUS": "B", "GIT_PUSH_CERT_NONCE_STATUS": "OK"}).good
