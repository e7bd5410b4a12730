# deny_privileged: containers must not run privileged.
# Pod Security Standards "baseline": spec.containers[*].securityContext.privileged
package main

import rego.v1

import data.lib.kubernetes as k

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
deny_privileged contains result if {
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	c.securityContext.privileged == true
	result := {
		"msg": concat("", [
			k.container_label_at(type, i, c),
			" runs privileged, which gives it full access to the node. ",
			"Remove securityContext.privileged or set it to false.",
		]),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", ".securityContext.privileged"]),
	}
}
