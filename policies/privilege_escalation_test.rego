package main_test

import rego.v1

import data.main

test_privilege_escalation_unset_denied if {
	r := main.deny_privilege_escalation with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {"containers": [
			{"name": "ok", "securityContext": {"allowPrivilegeEscalation": false}},
			{"name": "bad", "securityContext": {"runAsNonRoot": true}},
		]}}}
	r == {{
		"msg": "container \"bad\" does not set securityContext.allowPrivilegeEscalation, so setuid binaries can gain more privileges than the process. Set securityContext.allowPrivilegeEscalation: false.",
		"field": "spec.template.spec.containers[1].securityContext",
	}}
}

test_privilege_escalation_true_denied if {
	r := main.deny_privilege_escalation with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [{"name": "a", "securityContext": {"allowPrivilegeEscalation": true}}]}
	count(r) == 1
	some m in r
	m.field == "spec.containers[0].securityContext.allowPrivilegeEscalation"
	contains(m.msg, "sets securityContext.allowPrivilegeEscalation: true")
}

test_privilege_escalation_init_container_without_security_context if {
	r := main.deny_privilege_escalation with input.kind as "Job"
		with input.metadata as {"name": "migrate"}
		with input.spec as {"template": {"spec": {
			"initContainers": [{"name": "wait"}],
			"containers": [{"name": "m", "securityContext": {"allowPrivilegeEscalation": false}}],
		}}}
	{m.field | some m in r} == {"spec.template.spec.initContainers[0]"}
}

test_privilege_escalation_false_allowed if {
	r := main.deny_privilege_escalation with input.kind as "CronJob"
		with input.metadata as {"name": "cj"}
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
			{"name": "a", "securityContext": {"allowPrivilegeEscalation": false}},
		]}}}}}
	count(r) == 0
}
