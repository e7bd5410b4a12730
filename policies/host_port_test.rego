package main_test

import rego.v1

import data.main

test_host_port_denied if {
	r := main.deny_host_port with input.kind as "DaemonSet"
		with input.metadata as {"name": "ingress"}
		with input.spec as {"template": {"spec": {"containers": [{
			"name": "nginx",
			"ports": [{"containerPort": 8080}, {"containerPort": 443, "hostPort": 443}],
		}]}}}
	r == {{
		"msg": "container \"nginx\" binds hostPort 443 on the node, which bypasses network policies and limits scheduling. Remove hostPort and expose the port through a Service.",
		"field": "spec.template.spec.containers[0].ports[1].hostPort",
	}}
}

test_host_port_zero_allowed if {
	r := main.deny_host_port with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 0}]}]}
	count(r) == 0
}
