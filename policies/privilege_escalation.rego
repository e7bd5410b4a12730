# deny_privilege_escalation: containers must set allowPrivilegeEscalation: false.
# Pod Security Standards "restricted".
package main

import rego.v1

import data.lib.kubernetes as k

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
deny_privilege_escalation contains result if {
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	is_object(c)
	not c.securityContext.allowPrivilegeEscalation == false
	v := object.get(c, ["securityContext", "allowPrivilegeEscalation"], null)
	result := {
		"msg": concat("", [
			k.container_label_at(type, i, c), " ", _ape_problem(v),
			", so setuid binaries can gain more privileges than the process. ",
			"Set securityContext.allowPrivilegeEscalation: false.",
		]),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", _ape_suffix(c)]),
	}
}

# Field path suffix of securityContext.allowPrivilegeEscalation, or of its nearest existing parent.
_ape_suffix(c) := ".securityContext.allowPrivilegeEscalation" if {
	_ = c.securityContext.allowPrivilegeEscalation
} else := ".securityContext" if {
	_ = c.securityContext
} else := ""

_ape_problem(v) := "does not set securityContext.allowPrivilegeEscalation" if {
	v == null
} else := concat("", ["sets securityContext.allowPrivilegeEscalation: ", k.to_str(v)])
