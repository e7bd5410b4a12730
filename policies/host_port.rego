# deny_host_port: containers must not bind host ports.
# Pod Security Standards "baseline": ports[*].hostPort must be unset or 0.
package main

import rego.v1

import data.lib.kubernetes as k

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
deny_host_port contains result if {
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	ports := c.ports
	some j, port in ports
	hp := port.hostPort
	hp != 0
	hp != null
	result := {
		"msg": concat("", [
			k.container_label_at(type, i, c), " binds hostPort ", k.to_str(hp),
			" on the node, which bypasses network policies and limits scheduling. ",
			"Remove hostPort and expose the port through a Service.",
		]),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", ".ports[", format_int(j, 10), "].hostPort"]),
	}
}
