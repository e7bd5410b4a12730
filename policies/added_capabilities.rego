# deny_added_capabilities: containers may only add NET_BIND_SERVICE.
# Pod Security Standards "restricted": capabilities.add only NET_BIND_SERVICE.
package main

import rego.v1

import data.lib.kubernetes as k

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
deny_added_capabilities contains result if {
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	added := c.securityContext.capabilities.add
	is_array(added)
	some j, cap in added
	cap != "NET_BIND_SERVICE"
	result := {
		"msg": concat("", [
			k.container_label_at(type, i, c), " adds Linux capability ", k.to_str(cap),
			"; only NET_BIND_SERVICE may be added. ",
			"Remove it from securityContext.capabilities.add.",
		]),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", ".securityContext.capabilities.add[", format_int(j, 10), "]"]),
	}
}
