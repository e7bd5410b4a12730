package main_test

import rego.v1

import data.main

test_load_balancer_denied if {
	r := main.deny_service_type with input.apiVersion as "v1"
		with input.kind as "Service"
		with input.metadata as {"name": "web"}
		with input.spec as {"type": "LoadBalancer", "ports": [{"port": 80}]}
	r == {{
		"msg": "type LoadBalancer provisions an external load balancer, exposing the service outside the cluster without the platform ingress controls. Use type ClusterIP behind an Ingress/Gateway, or request a waiver if direct exposure is intended.",
		"field": "spec.type",
	}}
}

test_node_port_denied if {
	r := main.deny_service_type with input.apiVersion as "v1"
		with input.kind as "Service"
		with input.metadata as {"name": "web"}
		with input.spec as {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}
	count(r) == 1
}

test_cluster_ip_allowed if {
	r := main.deny_service_type with input.apiVersion as "v1"
		with input.kind as "Service"
		with input.metadata as {"name": "web"}
		with input.spec as {"ports": [{"port": 80}]}
	count(r) == 0
}

test_headless_allowed if {
	r := main.deny_service_type with input.apiVersion as "v1"
		with input.kind as "Service"
		with input.metadata as {"name": "db"}
		with input.spec as {"type": "ClusterIP", "clusterIP": "None"}
	count(r) == 0
}
