package main_test

import rego.v1

import data.main

test_missing_probes_warns if {
	r := main.warn_missing_probes with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {
			"initContainers": [{"name": "init"}],
			"containers": [
				{"name": "ok", "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}, "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}},
				{"name": "sidecar", "readinessProbe": {"tcpSocket": {"port": 9000}}},
			],
		}}}
	r == {{
		"msg": "container \"sidecar\" has no livenessProbe. Add a livenessProbe (httpGet, tcpSocket, grpc or exec) so Kubernetes can restart it when it hangs.",
		"field": "spec.template.spec.containers[1]",
	}}
}

test_missing_both_probes_warns_twice if {
	r := main.warn_missing_probes with input.kind as "StatefulSet"
		with input.metadata as {"name": "db"}
		with input.spec as {"template": {"spec": {"containers": [{"name": "db"}]}}}
	count(r) == 2
}

test_probes_not_required_for_cronjob if {
	r := main.warn_missing_probes with input.kind as "CronJob"
		with input.metadata as {"name": "cj"}
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}}
	count(r) == 0
}

test_probes_not_required_for_job if {
	r := main.warn_missing_probes with input.kind as "Job"
		with input.metadata as {"name": "j"}
		with input.spec as {"template": {"spec": {"containers": [{"name": "a"}]}}}
	count(r) == 0
}
