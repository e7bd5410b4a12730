package main_test

import rego.v1

import data.main

test_host_network_denied if {
	r := main.deny_host_namespace with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {"hostNetwork": true, "containers": [{"name": "a"}]}}}
	count(r) == 1
	some m in r
	m.field == "spec.template.spec.hostNetwork"
	startswith(m.msg, "hostNetwork: true")
}

test_all_host_namespaces_denied if {
	r := main.deny_host_namespace with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"hostNetwork": true, "hostPID": true, "hostIPC": true, "containers": [{"name": "a"}]}
	{m.field | some m in r} == {"spec.hostNetwork", "spec.hostPID", "spec.hostIPC"}
}

test_host_pid_in_cronjob_denied if {
	r := main.deny_host_namespace with input.kind as "CronJob"
		with input.metadata as {"name": "cj"}
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {"hostPID": true, "containers": [{"name": "a"}]}}}}}
	{m.field | some m in r} == {"spec.jobTemplate.spec.template.spec.hostPID"}
}

test_host_namespaces_false_allowed if {
	r := main.deny_host_namespace with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"hostNetwork": false, "hostPID": false, "containers": [{"name": "a"}]}
	count(r) == 0
}
