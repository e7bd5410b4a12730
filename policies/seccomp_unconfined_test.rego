package main_test

import rego.v1

import data.main

test_seccomp_unconfined_pod_denied if {
	r := main.deny_seccomp_unconfined with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {
			"securityContext": {"seccompProfile": {"type": "Unconfined"}},
			"containers": [{"name": "a"}],
		}}}
	{m.field | some m in r} == {"spec.template.spec.securityContext.seccompProfile.type"}
}

test_seccomp_unconfined_container_denied if {
	r := main.deny_seccomp_unconfined with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {
			"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
			"containers": [{"name": "a"}, {"name": "b", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}],
		}
	{m.field | some m in r} == {"spec.containers[1].securityContext.seccompProfile.type"}
}

test_seccomp_runtime_default_allowed if {
	r := main.deny_seccomp_unconfined with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "containers": [{"name": "a"}]}
	count(r) == 0
}
