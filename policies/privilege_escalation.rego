# deny_privilege_escalation: containers must set allowPrivilegeEscalation: false.
# Pod Security Standards "restricted".
package main

import rego.v1

import data.lib.kubernetes as k

deny_privilege_escalation contains result if {
	some c in k.all_containers
	v := object.get(k.container_security_context(c), "allowPrivilegeEscalation", null)
	v != false
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c), " ", _ape_problem(v),
			", so setuid binaries can gain more privileges than the process. ",
			"Set securityContext.allowPrivilegeEscalation: false.",
		]),
		"field": k.container_field(c, ["securityContext", "allowPrivilegeEscalation"]),
	}
}

_ape_problem(v) := "does not set securityContext.allowPrivilegeEscalation" if {
	v == null
} else := concat("", ["sets securityContext.allowPrivilegeEscalation: ", k.to_str(v)])
