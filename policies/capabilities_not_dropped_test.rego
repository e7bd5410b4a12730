package main_test

import rego.v1

import data.main

test_capabilities_not_dropped_warns if {
	r := main.warn_capabilities_not_dropped with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {
			"initContainers": [{"name": "i", "securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}],
			"containers": [
				{"name": "ok", "securityContext": {"capabilities": {"drop": ["ALL"]}}},
				{"name": "bare"},
			],
		}}}
	{m.field | some m in r} == {
		"spec.template.spec.initContainers[0].securityContext.capabilities.drop",
		"spec.template.spec.containers[1]",
	}
}

test_capabilities_dropped_ok if {
	r := main.warn_capabilities_not_dropped with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [{"name": "a", "securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}]}
	count(r) == 0
}

test_capabilities_not_dropped_nearest_field if {
	r := main.warn_capabilities_not_dropped with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [
			{"name": "a", "securityContext": {}},
			{"name": "b", "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"]}}},
			{"name": "c", "securityContext": {"capabilities": {"drop": "ALL"}}},
		]}
	{m.field | some m in r} == {
		"spec.containers[0].securityContext",
		"spec.containers[1].securityContext.capabilities",
		"spec.containers[2].securityContext.capabilities.drop",
	}
}
