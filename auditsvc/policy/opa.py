"""Rego policies evaluated by an OPA server over its REST API, through opa-python-client.

The engine runs the same RulePlan as the embedded engine, so both run the
same rules for the same document and their findings agree.

- push mode: at start, every module goes to the server with
  `PUT /v1/policies/{id}`, the --data documents with `PUT /v1/data/{key}`, and
  last a generated entry package, so that one `POST /v1/data/...` per
  document returns the values of every selected rule. The entry package is
  named after the plan's digest: a later run with the same policies finds it
  and uploads nothing.
- bundle mode: the server loaded the policies itself (an OPA bundle). The
  engine uploads nothing; it reads the modules the server holds
  (`GET /v1/policies`) for the digest, the rule names and their kinds, and per
  document asks each selected package (`POST /v1/data/<package>`).

A server that does not answer within the timeout, or cannot be reached, raises
PolicyServerUnavailable: there is no decision, and the caller's fail mode applies.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from opa_client import OpaClient
from opa_client.errors import DeletePolicyError, PolicyNotFoundError, RegoParseError

from auditsvc.errors import PolicyError, PolicyServerUnavailable
from auditsvc.policy import Evaluation, to_evaluation
from auditsvc.policy.rego import ENTRY_PACKAGE, Module, RulePlan, load_data, load_modules, parse_module

POLICY_ID_PREFIX = "auditsvc/"  # push mode owns the server's policies under this id prefix
MODES = ("push", "bundle")

T = TypeVar("T")


def policy_ids(policy_dirs: Sequence[str], modules: Sequence[Module]) -> list[str]:
    """A stable id per module: the prefix, the index of its policy directory, its path inside it.

    Stable ids make a repeated upload replace modules instead of adding copies.
    """
    roots = [os.path.abspath(d) for d in policy_dirs]
    ids = []
    for module in modules:
        path = os.path.abspath(module.path)
        for index, root in enumerate(roots):
            if path == root:
                ids.append(f"{POLICY_ID_PREFIX}{index}/{os.path.basename(path)}")
                break
            if path.startswith(root + os.sep):
                ids.append(f"{POLICY_ID_PREFIX}{index}/{os.path.relpath(path, root)}")
                break
    return ids


class OpaEngine:
    """conftest-compatible evaluation by an OPA server (PolicyEngine protocol)."""

    def __init__(
        self,
        url: str,
        mode: str = "push",
        timeout_seconds: float = 2.0,
        policy_dirs: Sequence[str] = (),
        namespaces: Sequence[str] = ("main",),
        all_namespaces: bool = False,
        excluded_namespaces: Sequence[str] = (),
        data_files: Sequence[str] = (),
        disabled_rules: Sequence[str] = (),
        role: str = "state",
    ) -> None:
        """role names this engine's entry package on the server: "state" (manifests) or "change"
        (change-aware rules); each role replaces only its own entry package when policies change."""
        if mode not in MODES:
            raise PolicyError(f"unknown OPA engine mode {mode!r}: use one of {', '.join(MODES)}")
        self.url = url.rstrip("/")
        self.mode = mode
        self.role = role
        self.timeout = timeout_seconds
        self._pid = -1
        self._opa: OpaClient | None = None
        if mode == "push":
            modules = [m for m in load_modules(policy_dirs) if not m.is_test]
            self.plan = RulePlan.build(
                modules, load_data(data_files), namespaces, all_namespaces, excluded_namespaces, disabled_rules
            )
            self.entry_package = f"{ENTRY_PACKAGE}.{role}_p{self.plan.digest[:16]}"
            self._upload(policy_ids(policy_dirs, modules))
        else:
            modules = self._server_modules()
            self.plan = RulePlan.build(modules, {}, namespaces, all_namespaces, excluded_namespaces, disabled_rules)
            if not self.plan.rules and role == "state":  # change-aware rules are optional
                raise PolicyServerUnavailable(
                    f"the OPA server at {self.url} holds no deny, violation or warn rules in package "
                    f"{', '.join(namespaces)}: has it loaded its bundle? (policy.mode: bundle)"
                )
        self.digest = self.plan.digest
        self.rules = self.plan.rules

    @property
    def client(self) -> OpaClient:
        """The client of this process: a forked check worker must not share its parent's connections."""
        if self._opa is None or self._pid != os.getpid():
            parts = urlsplit(self.url)
            https = parts.scheme == "https"
            # retries=0: one attempt bounded by the timeout keeps the hook inside its time budget.
            self._opa = OpaClient(
                host=parts.hostname or "localhost",
                port=parts.port or (443 if https else 80),
                ssl=https,
                retries=0,
                timeout=self.timeout,
            )
            self._pid = os.getpid()
        return self._opa

    def _call(self, what: str, function: Callable[..., T], *args: Any) -> T:
        """One request, with the client's and the transport's errors turned into PolicyErrors naming the server."""
        try:
            return function(*args)
        except (requests.Timeout, requests.ConnectionError) as err:
            if not _timed_out(err):
                raise PolicyServerUnavailable(
                    f"cannot reach the OPA server at {self.url} for {what}: start it, or correct policy.url"
                ) from None
            raise PolicyServerUnavailable(
                f"the OPA server at {self.url} did not answer {what} within {self.timeout:g} s (policy.timeout_seconds)"
            ) from None
        except requests.HTTPError as err:
            response = err.response
            message = _opa_message(response)
            if response is not None and response.status_code == 500 and message is not None:
                raise PolicyError(f"the OPA server could not evaluate {what}: {message}") from None
            raise PolicyServerUnavailable(
                f"the OPA server at {self.url} answered {what} with HTTP "
                f"{response.status_code if response is not None else '?'}: {message or 'not an OPA error'}"
            ) from None
        except RegoParseError as err:
            details = "; ".join(e.get("message", "") for e in err.errors if isinstance(e, dict)) or str(err.message)
            raise PolicyError(f"the OPA server at {self.url} refused {what}: {details}") from None
        except (requests.RequestException, ValueError):
            raise PolicyServerUnavailable(
                f"the OPA server at {self.url} gave an answer to {what} that is not OPA's REST API: check policy.url"
            ) from None

    def _upload(self, ids: Sequence[str]) -> None:
        """Modules, data, then the entry package: an entry package on the server means the rest is there."""
        entry_id = f"{POLICY_ID_PREFIX}entry/{self.role}/{self.plan.digest[:16]}.rego"
        entries = f"{POLICY_ID_PREFIX}entry/"
        existing = self._call("the policy list", self.client.get_policies_list)
        if entry_id in existing:
            return
        ours = {*ids, entry_id}
        for stale in existing:
            # The other role's entry package is not stale: it belongs to the other engine.
            other_role = stale.startswith(entries) and not stale.startswith(f"{entries}{self.role}/")
            if stale.startswith(POLICY_ID_PREFIX) and stale not in ours and not other_role:
                with contextlib.suppress(DeletePolicyError):  # another receiver deleted it first
                    self._call(f"deleting policy {stale}", self.client.delete_policy, stale)
        for key, value in self.plan.data.items():
            self._call(f"data {key}", self._put_data, key, value)
        for policy_id, module in zip(ids, self.plan.modules):
            self._call(f"policy {module.path}", self.client.update_policy_from_string, module.text, policy_id)
        entry = self.plan.entry_module(self.entry_package)
        self._call("the entry package", self.client.update_policy_from_string, entry, entry_id)

    def _put_data(self, key: str, value: Any) -> None:
        # The client's update_or_create_data accepts only objects; PUT /v1/data/{path} takes any JSON
        # value (a list of allowed registries, say), so this goes through the client's own session.
        response = self.client._session.put(f"{self.client.root_url}/data/{key}", json=value, timeout=self.timeout)
        response.raise_for_status()

    def _server_modules(self) -> list[Module]:
        modules = []
        for policy_id in self._call("the policy list", self.client.get_policies_list):
            try:
                raw = self._call(f"policy {policy_id}", self.client.get_policy, policy_id)["result"]["raw"]
            except PolicyNotFoundError:
                continue  # removed since the list was read
            modules.append(parse_module(policy_id, raw))
        return [m for m in modules if not m.is_test]

    def evaluate(self, value: Any, kind: str | None = None, changed: Sequence[str] | None = None) -> Evaluation:
        entry = self.plan.entry_for(value, kind, changed)
        if entry is None:
            return Evaluation((), frozenset())
        if self.mode == "push":
            found = self._decide(self.entry_package, entry, value)
            return to_evaluation(found if isinstance(found, dict) else {})
        results: dict[str, dict[str, Any]] = {}
        for namespace, names in self.plan.entries[entry].items():
            document = self._decide(namespace, None, value)
            document = document if isinstance(document, dict) else {}
            results[namespace] = {name: document[name] for name in names if name in document}
        return to_evaluation(results)

    def _decide(self, package: str, rule: str | None, value: Any) -> Any:
        """POST /v1/data/<package>[/<rule>] with the document as input; None when undefined."""
        what = f"data.{package}{'.' + rule if rule else ''}"
        answer = self._call(what, self.client.query_rule, value, package, rule)
        return answer.get("result") if isinstance(answer, dict) else None


def _timed_out(err: requests.RequestException) -> bool:
    """A read timeout: requests reports it as ConnectionError when urllib3's retry wrapper saw it (GET)."""
    reason = getattr(err.args[0], "reason", None) if err.args else None
    return isinstance(err, requests.Timeout) or isinstance(reason, urllib3.exceptions.ReadTimeoutError)


def _opa_message(response: requests.Response | None) -> str | None:
    """OPA's error text ({"code", "message", "errors": [...]}), None when the body is not one."""
    if response is None:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or "message" not in body:
        return None
    details = [e.get("message", "") for e in body.get("errors") or [] if isinstance(e, dict)]
    return "; ".join([str(body["message"]), *details]) if details else str(body["message"])
