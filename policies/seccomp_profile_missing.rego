# warn_seccomp_profile_missing: a seccomp profile should be set.
# Pod Security Standards "restricted": seccompProfile.type must be
# RuntimeDefault or Localhost (pod level, or on every container).
package main

import rego.v1

import data.lib.kubernetes as k

warn_seccomp_profile_missing contains result if {
	object.get(k.pod_security_context, ["seccompProfile", "type"], "") == ""
	some c in k.all_containers
	object.get(k.container_security_context(c), ["seccompProfile", "type"], "") == ""
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c), " has no seccomp profile. ",
			"Set securityContext.seccompProfile.type: RuntimeDefault in the pod spec ",
			"(or in the container).",
		]),
		"field": k.pod_field(["securityContext", "seccompProfile"]),
	}
}
