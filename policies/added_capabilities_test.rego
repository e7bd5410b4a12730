package main_test

import rego.v1

import data.main

test_added_capability_denied if {
	r := main.deny_added_capabilities with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {"containers": [{
			"name": "app",
			"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}},
		}]}}}
	r == {{
		"msg": "container \"app\" adds Linux capability SYS_ADMIN; only NET_BIND_SERVICE may be added. Remove it from securityContext.capabilities.add.",
		"field": "spec.template.spec.containers[0].securityContext.capabilities.add[1]",
	}}
}

test_added_capabilities_multiple_containers if {
	r := main.deny_added_capabilities with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {
			"initContainers": [{"name": "i", "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}],
			"containers": [
				{"name": "a"},
				{"name": "b", "securityContext": {"capabilities": {"add": ["NET_RAW", "ALL"]}}},
			],
		}
	{m.field | some m in r} == {
		"spec.initContainers[0].securityContext.capabilities.add[0]",
		"spec.containers[1].securityContext.capabilities.add[0]",
		"spec.containers[1].securityContext.capabilities.add[1]",
	}
}

test_net_bind_service_allowed if {
	r := main.deny_added_capabilities with input.kind as "CronJob"
		with input.metadata as {"name": "cj"}
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
			{"name": "a", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}},
			{"name": "b"},
		]}}}}}
	count(r) == 0
}
