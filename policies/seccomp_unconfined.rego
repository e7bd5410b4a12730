# deny_seccomp_unconfined: seccomp must not be disabled.
# Pod Security Standards "baseline": seccompProfile.type must not be Unconfined.
package main

import rego.v1

import data.lib.kubernetes as k

deny_seccomp_unconfined contains result if {
	object.get(k.pod_security_context, ["seccompProfile", "type"], "") == "Unconfined"
	result := {
		"msg": concat("", [
			k.resource, ": the pod disables seccomp (securityContext.seccompProfile.type: Unconfined). ",
			"Use type RuntimeDefault (or Localhost with a reviewed profile).",
		]),
		"field": concat("", [k.pod_spec_path, ".securityContext.seccompProfile.type"]),
	}
}

deny_seccomp_unconfined contains result if {
	some c in k.all_containers
	object.get(k.container_security_context(c), ["seccompProfile", "type"], "") == "Unconfined"
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c),
			" disables seccomp (securityContext.seccompProfile.type: Unconfined). ",
			"Use type RuntimeDefault (or Localhost with a reviewed profile).",
		]),
		"field": concat("", [c.path, ".securityContext.seccompProfile.type"]),
	}
}
