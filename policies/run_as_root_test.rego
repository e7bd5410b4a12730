package main_test

import rego.v1

import data.main

test_run_as_non_root_missing_denied if {
	r := main.deny_run_as_root with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {"containers": [{"name": "app", "image": "a:1"}]}}}
	count(r) == 1
	some m in r
	m.field == "spec.template.spec.containers[0]"
	startswith(m.msg, "container \"app\" may run as root")
}

test_pod_level_run_as_non_root_allowed if {
	r := main.deny_run_as_root with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {
			"securityContext": {"runAsNonRoot": true, "runAsUser": 10001},
			"initContainers": [{"name": "init"}],
			"containers": [{"name": "app"}, {"name": "sidecar"}],
		}}}
	count(r) == 0
}

test_container_level_overrides_pod_level_false if {
	r := main.deny_run_as_root with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {
			"securityContext": {"runAsNonRoot": false},
			"containers": [
				{"name": "good", "securityContext": {"runAsNonRoot": true}},
				{"name": "bad"},
			],
		}
	r == {{
		"msg": "container \"bad\" may run as root: pod-level securityContext.runAsNonRoot is false. Set securityContext.runAsNonRoot: true.",
		"field": "spec.securityContext.runAsNonRoot",
	}}
}

test_container_level_false_overrides_pod_level_true if {
	r := main.deny_run_as_root with input.kind as "StatefulSet"
		with input.metadata as {"name": "db"}
		with input.spec as {"template": {"spec": {
			"securityContext": {"runAsNonRoot": true},
			"containers": [{"name": "db", "securityContext": {"runAsNonRoot": false}}],
		}}}
	{m.field | some m in r} == {"spec.template.spec.containers[0].securityContext.runAsNonRoot"}
}

test_run_as_user_zero_denied if {
	r := main.deny_run_as_root with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {
			"securityContext": {"runAsNonRoot": true},
			"containers": [{"name": "app", "securityContext": {"runAsUser": 0}}],
		}}}
	count(r) == 1
	some m in r
	m.field == "spec.template.spec.containers[0].securityContext.runAsUser"
	contains(m.msg, "runAsUser is 0")
}

test_pod_run_as_user_zero_overridden_by_container if {
	r := main.deny_run_as_root with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {
			"securityContext": {"runAsNonRoot": true, "runAsUser": 0},
			"containers": [{"name": "ok", "securityContext": {"runAsUser": 1000}}, {"name": "root"}],
		}}}
	{m.field | some m in r} == {"spec.template.spec.securityContext.runAsUser"}
	some m in r
	contains(m.msg, "container \"root\"")
}

test_init_container_in_cronjob_denied if {
	r := main.deny_run_as_root with input.kind as "CronJob"
		with input.metadata as {"name": "cj"}
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {
			"initContainers": [{"name": "setup", "securityContext": {"runAsUser": 1}}],
			"containers": [{"name": "main", "securityContext": {"runAsNonRoot": true}}],
		}}}}}
	r == {{
		"msg": "init container \"setup\" may run as root: securityContext.runAsNonRoot is not set in the container or the pod. Set securityContext.runAsNonRoot: true (and a non-zero runAsUser) in the pod or container.",
		"field": "spec.jobTemplate.spec.template.spec.initContainers[0].securityContext",
	}}
}
