# deny_privileged: containers must not run privileged.
# Pod Security Standards "baseline": spec.containers[*].securityContext.privileged
package main

import rego.v1

import data.lib.kubernetes as k

deny_privileged contains result if {
	some c in k.all_containers
	k.container_security_context(c).privileged == true
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c),
			" runs privileged, which gives it full access to the node. ",
			"Remove securityContext.privileged or set it to false.",
		]),
		"field": k.container_field(c, ["securityContext", "privileged"]),
	}
}
