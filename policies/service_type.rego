# deny_service_type: Services must not be exposed directly with LoadBalancer or NodePort.
package main

import rego.v1

import data.lib.kubernetes as k

_exposing_service_types := {
	"LoadBalancer": "provisions an external load balancer",
	"NodePort": "opens a port on every node",
}

deny_service_type contains result if {
	k.kind == "Service"
	k.api_version == "v1"
	t := object.get(input, ["spec", "type"], "ClusterIP")
	effect := _exposing_service_types[t]
	result := {
		"msg": concat("", [
			k.resource, ": type ", t, " ", effect, ", exposing the service outside the cluster ",
			"without the platform ingress controls. Use type ClusterIP behind an Ingress/Gateway, ",
			"or request a waiver if direct exposure is intended.",
		]),
		"field": "spec.type",
	}
}
