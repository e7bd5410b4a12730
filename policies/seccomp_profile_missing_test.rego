package main_test

import rego.v1

import data.main

test_seccomp_profile_missing_warns if {
	r := main.warn_seccomp_profile_missing with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {
			"securityContext": {"runAsNonRoot": true},
			"containers": [
				{"name": "a"},
				{"name": "b", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
			],
		}}}
	count(r) == 1
	some m in r
	m.field == "spec.template.spec.securityContext"
	contains(m.msg, "container \"a\" has no seccomp profile")
}

test_seccomp_profile_pod_level_ok if {
	r := main.warn_seccomp_profile_missing with input.kind as "CronJob"
		with input.metadata as {"name": "cj"}
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {
			"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
			"initContainers": [{"name": "i"}],
			"containers": [{"name": "a"}],
		}}}}}
	count(r) == 0
}

test_seccomp_profile_missing_field_without_pod_security_context if {
	r := main.warn_seccomp_profile_missing with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [{"name": "a"}, {"name": "b", "securityContext": {"seccompProfile": {"type": ""}}}]}
	{m.field | some m in r} == {"spec"}
	count(r) == 2
}
