# warn_seccomp_profile_missing: a seccomp profile should be set.
# Pod Security Standards "restricted": seccompProfile.type must be
# RuntimeDefault or Localhost (pod level, or on every container).
package main

import rego.v1

import data.lib.kubernetes as k

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
warn_seccomp_profile_missing contains result if {
	pod := k.pod_spec
	# seccompProfile.type missing or "" (the `not ... != ""` form is true for both)
	not pod.securityContext.seccompProfile.type != ""
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	is_object(c)
	not c.securityContext.seccompProfile.type != ""
	result := {
		"msg": concat("", [
			k.container_label_at(type, i, c), " has no seccomp profile. ",
			"Set securityContext.seccompProfile.type: RuntimeDefault in the pod spec ",
			"(or in the container).",
		]),
		"field": _seccomp_profile_field,
	}
}

# The pod's securityContext.seccompProfile, or its nearest existing parent (same for every container).
_seccomp_profile_field := concat("", [k.pod_spec_path, ".securityContext.seccompProfile"]) if {
	_ = k.pod_spec.securityContext.seccompProfile
} else := concat("", [k.pod_spec_path, ".securityContext"]) if {
	_ = k.pod_spec.securityContext
} else := k.pod_spec_path
