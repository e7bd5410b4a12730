# deny_service_type: Services must not be exposed directly with LoadBalancer or NodePort.
package main

import rego.v1

import data.lib.kubernetes as k

# What each exposing type does (ClusterIP, the default, is fine).
_exposing_service_type("LoadBalancer") := "provisions an external load balancer"

_exposing_service_type("NodePort") := "opens a port on every node"

# METADATA
# scope: document
# custom:
#   kinds: [Service]
deny_service_type contains result if {
	input.kind == "Service"
	input.apiVersion == "v1"
	t := input.spec.type
	effect := _exposing_service_type(t)
	result := {
		"msg": concat("", [
			"type ", t, " ", effect, ", exposing the service outside the cluster ",
			"without the platform ingress controls. Use type ClusterIP behind an Ingress/Gateway, ",
			"or request a waiver if direct exposure is intended.",
		]),
		"field": "spec.type",
	}
}
