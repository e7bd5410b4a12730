package main_test

import rego.v1

import data.main

test_missing_resources_denied if {
	r := main.deny_missing_resources with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {"containers": [
			{"name": "full", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "128Mi"}}},
			{"name": "none"},
			{"name": "partial", "resources": {"requests": {"cpu": "100m"}}},
		]}}}
	{m.field | some m in r} == {
		"spec.template.spec.containers[1]",
		"spec.template.spec.containers[2].resources.requests",
		"spec.template.spec.containers[2].resources",
	}
	count(r) == 5
}

test_missing_resources_message if {
	r := main.deny_missing_resources with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}
	r == {{
		"msg": "container \"a\" has no resources.limits.memory. Set resources.limits.memory (e.g. from observed usage) so the pod is scheduled and bounded predictably.",
		"field": "spec.containers[0].resources",
	}}
}

test_missing_resources_init_container_in_cronjob if {
	r := main.deny_missing_resources with input.kind as "CronJob"
		with input.metadata as {"name": "cj"}
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {
			"initContainers": [{"name": "i", "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}],
			"containers": [{"name": "a", "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "16Mi"}}}],
		}}}}}
	{m.field | some m in r} == {"spec.jobTemplate.spec.template.spec.initContainers[0].resources"}
}

test_resources_complete_ok if {
	r := main.deny_missing_resources with input.kind as "StatefulSet"
		with input.metadata as {"name": "db"}
		with input.spec as {"template": {"spec": {"containers": [
			{"name": "db", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}}},
		]}}}
	count(r) == 0
}

test_resources_not_required_for_ephemeral_containers if {
	r := main.deny_missing_resources with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {
			"containers": [{"name": "a", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}}],
			"ephemeralContainers": [{"name": "debug"}],
		}
	count(r) == 0
}
