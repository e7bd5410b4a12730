package change_test

import rego.v1

import data.change

_commit(status) := {"id": "0123456789abcdef0123", "signature": {"status": status, "signer": "", "key": ""}}

test_unsigned_commit_on_signed_ref_denied if {
	r := change.deny_unsigned_commit with data.auditsvc.signed_refs as ["refs/heads/main", "refs/heads/release/*"]
		with input.push as {"ref": "refs/heads/release/1.2"}
		with input.commit as _commit("N")
	r == {{
		"msg": "commit 0123456789ab is not signed, and refs/heads/release/1.2 requires signed commits. Sign it (git commit -S, or git rebase --exec 'git commit --amend --no-edit -S') and push again.",
		"field": "",
	}}
}

test_good_signatures_pass if {
	count(change.deny_unsigned_commit) == 0 with data.auditsvc.signed_refs as ["refs/heads/main"]
		with input.push as {"ref": "refs/heads/main"}
		with input.commit as _commit("G")
	count(change.deny_unsigned_commit) == 0 with data.auditsvc.signed_refs as ["refs/heads/main"]
		with input.push as {"ref": "refs/heads/main"}
		with input.commit as _commit("U")
}

test_bad_and_revoked_signatures_denied if {
	some m in change.deny_unsigned_commit with data.auditsvc.signed_refs as ["refs/heads/main"]
		with input.push as {"ref": "refs/heads/main"}
		with input.commit as _commit("B")
	contains(m.msg, "bad signature")
	some n in change.deny_unsigned_commit with data.auditsvc.signed_refs as ["refs/heads/main"]
		with input.push as {"ref": "refs/heads/main"}
		with input.commit as _commit("R")
	contains(n.msg, "revoked key")
}

test_other_refs_and_default_pass if {
	count(change.deny_unsigned_commit) == 0 with data.auditsvc.signed_refs as ["refs/heads/main"]
		with input.push as {"ref": "refs/heads/feature"}
		with input.commit as _commit("N")
	count(change.deny_unsigned_commit) == 0 with input.push as {"ref": "refs/heads/main"}
		with input.commit as _commit("N")
}
