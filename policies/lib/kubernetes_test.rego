package lib.kubernetes_test

import rego.v1

import data.lib.kubernetes as k

test_pod_spec_path_per_kind if {
	k.pod_spec_path == "spec" with input.kind as "Pod"
	k.pod_spec_path == "spec.template.spec" with input.kind as "Deployment"
	k.pod_spec_path == "spec.template.spec" with input.kind as "Job"
	k.pod_spec_path == "spec.jobTemplate.spec.template.spec" with input.kind as "CronJob"
}

test_pod_spec_per_kind if {
	k.pod_spec == {"containers": []} with input.kind as "Pod" with input.spec as {"containers": []}
	k.pod_spec == {"hostPID": true} with input.kind as "StatefulSet" with input.spec as {"template": {"spec": {"hostPID": true}}}
	not k.pod_spec with input.kind as "Deployment" with input.spec as {"template": {"spec": "x"}}
}

test_no_pod_spec_for_non_workloads if {
	not k.pod_spec_path with input.kind as "Service"
	not k.pod_spec with input.kind as "Service" with input.spec as {"containers": [{"name": "x"}]}
	count(k.container_lists) == 0 with input.kind as "Service" with input.spec as {"containers": [{"name": "x"}]}
}

test_cronjob_container_lists if {
	spec := {"jobTemplate": {"spec": {"template": {"spec": {
		"initContainers": [{"name": "init"}],
		"containers": [{"name": "a"}, {"name": "b"}],
		"ephemeralContainers": [{"name": "debug"}],
	}}}}}
	lists := k.container_lists with input.kind as "CronJob" with input.spec as spec
	lists == {
		"initContainers": [{"name": "init"}],
		"containers": [{"name": "a"}, {"name": "b"}],
		"ephemeralContainers": [{"name": "debug"}],
	}
}

test_container_lists_only_present_types if {
	lists := k.container_lists with input.kind as "Pod" with input.spec as {"containers": [{"name": "a"}]}
	lists == {"containers": [{"name": "a"}]}
}

test_container_label_at if {
	k.container_label_at("containers", 0, {"name": "app"}) == "container \"app\""
	k.container_label_at("initContainers", 0, {"name": "setup"}) == "init container \"setup\""
	k.container_label_at("ephemeralContainers", 0, {"name": "dbg"}) == "ephemeral container \"dbg\""
	k.container_label_at("containers", 3, {"image": "x"}) == "container \"#3\""
	k.container_label_at("containers", 0, {"name": 7}) == "container \"7\""
}
