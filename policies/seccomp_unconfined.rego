# deny_seccomp_unconfined: seccomp must not be disabled.
# Pod Security Standards "baseline": seccompProfile.type must not be Unconfined.
package main

import rego.v1

import data.lib.kubernetes as k

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
deny_seccomp_unconfined contains result if {
	k.pod_spec.securityContext.seccompProfile.type == "Unconfined"
	result := {
		"msg": concat("", [
			"the pod disables seccomp (securityContext.seccompProfile.type: Unconfined). ",
			"Use type RuntimeDefault (or Localhost with a reviewed profile).",
		]),
		"field": concat("", [k.pod_spec_path, ".securityContext.seccompProfile.type"]),
	}
}

deny_seccomp_unconfined contains result if {
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	c.securityContext.seccompProfile.type == "Unconfined"
	result := {
		"msg": concat("", [
			k.container_label_at(type, i, c),
			" disables seccomp (securityContext.seccompProfile.type: Unconfined). ",
			"Use type RuntimeDefault (or Localhost with a reviewed profile).",
		]),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", ".securityContext.seccompProfile.type"]),
	}
}
