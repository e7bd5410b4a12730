package main_test

import rego.v1

import data.main

test_privileged_container_denied if {
	r := main.deny_privileged with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {"containers": [
			{"name": "ok", "image": "a:1"},
			{"name": "bad", "image": "a:1", "securityContext": {"privileged": true}},
		]}}}
	count(r) == 1
	some m in r
	m.field == "spec.template.spec.containers[1].securityContext.privileged"
	startswith(m.msg, "container \"bad\" runs privileged")
	contains(m.msg, "\"bad\"")
}

test_privileged_init_container_in_cronjob_denied if {
	r := main.deny_privileged with input.kind as "CronJob"
		with input.metadata as {"name": "nightly"}
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {
			"initContainers": [{"name": "setup", "securityContext": {"privileged": true}}],
			"containers": [{"name": "main"}],
		}}}}}
	r == {{
		"msg": "init container \"setup\" runs privileged, which gives it full access to the node. Remove securityContext.privileged or set it to false.",
		"field": "spec.jobTemplate.spec.template.spec.initContainers[0].securityContext.privileged",
	}}
}

test_unprivileged_allowed if {
	r := main.deny_privileged with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [
			{"name": "a", "securityContext": {"privileged": false}},
			{"name": "b"},
		]}
	count(r) == 0
}

test_non_workload_ignored if {
	r := main.deny_privileged with input.kind as "ConfigMap"
		with input.metadata as {"name": "c"}
		with input.data as {"privileged": "true"}
	count(r) == 0
}

test_workload_shaped_service_ignored if {
	r := main.deny_privileged with input.kind as "Service"
		with input.metadata as {"name": "s"}
		with input.spec as {"template": {"spec": {"containers": [{"name": "a", "securityContext": {"privileged": true}}]}}}
	count(r) == 0
}

test_privileged_ephemeral_unnamed_container_denied if {
	r := main.deny_privileged with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": ["not-a-container", {"name": "a"}], "ephemeralContainers": [{"securityContext": {"privileged": true}}]}
	r == {{
		"msg": "ephemeral container \"#0\" runs privileged, which gives it full access to the node. Remove securityContext.privileged or set it to false.",
		"field": "spec.ephemeralContainers[0].securityContext.privileged",
	}}
}
