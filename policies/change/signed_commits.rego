# deny_unsigned_commit: on refs listed in data.auditsvc.signed_refs (globs, e.g.
# "refs/heads/main"), every commit that changes a manifest must carry a good
# signature (git's %G? status G, or U: good signature of a key of unknown trust).
# Off by default: an empty list.
package change

import rego.v1

import data.lib.config

_good := {"G", "U"}

deny_unsigned_commit contains result if {
	some pattern in config.signed_refs
	glob.match(pattern, ["/"], input.push.ref)
	status := input.commit.signature.status
	not status in _good
	result := {
		"msg": concat("", [
			"commit ", substring(input.commit.id, 0, 12), " is ", _signature_problem(status),
			", and ", input.push.ref, " requires signed commits. Sign it (git commit -S, or git rebase --exec 'git commit --amend --no-edit -S') and push again.",
		]),
		"field": "",
	}
}

_signature_problem("N") := "not signed"

_signature_problem("B") := "signed with a bad signature"

_signature_problem(s) := "signed with an expired signature or key" if s in {"X", "Y"}

_signature_problem("R") := "signed with a revoked key"

_signature_problem("E") := "signed, but the signature cannot be checked on the server (unknown key)"
