package main_test

import rego.v1

import data.main

test_host_path_denied if {
	r := main.deny_host_path with input.kind as "DaemonSet"
		with input.metadata as {"name": "agent"}
		with input.spec as {"template": {"spec": {
			"containers": [{"name": "a"}],
			"volumes": [
				{"name": "cfg", "configMap": {"name": "c"}},
				{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}},
			],
		}}}
	r == {{
		"msg": "volume \"docker\" mounts hostPath \"/var/run/docker.sock\" from the node, which allows escaping the container. Use an emptyDir, PersistentVolumeClaim, ConfigMap/Secret or CSI volume instead.",
		"field": "spec.template.spec.volumes[1].hostPath",
	}}
}

test_host_path_in_cronjob_denied if {
	r := main.deny_host_path with input.kind as "CronJob"
		with input.metadata as {"name": "backup"}
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {
			"containers": [{"name": "a"}],
			"volumes": [{"name": "h", "hostPath": {"path": "/"}}],
		}}}}}
	count(r) == 1
	some m in r
	m.field == "spec.jobTemplate.spec.template.spec.volumes[0].hostPath"
}

test_no_host_path_allowed if {
	r := main.deny_host_path with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {
			"containers": [{"name": "a"}],
			"volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "data", "persistentVolumeClaim": {"claimName": "d"}}],
		}
	count(r) == 0
}

test_host_path_without_volumes_allowed if {
	r := main.deny_host_path with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {"containers": [{"name": "a"}]}}}
	count(r) == 0
}
