# deny_host_port: containers must not bind host ports.
# Pod Security Standards "baseline": ports[*].hostPort must be unset or 0.
package main

import rego.v1

import data.lib.kubernetes as k

deny_host_port contains result if {
	some c in k.all_containers
	some j, port in object.get(c.container, "ports", [])
	hp := object.get(port, "hostPort", 0)
	hp != 0
	hp != null
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c), " binds hostPort ", k.to_str(hp),
			" on the node, which bypasses network policies and limits scheduling. ",
			"Remove hostPort and expose the port through a Service.",
		]),
		"field": concat("", [c.path, ".ports[", format_int(j, 10), "].hostPort"]),
	}
}
