# deny_added_capabilities: containers may only add NET_BIND_SERVICE.
# Pod Security Standards "restricted": capabilities.add only NET_BIND_SERVICE.
package main

import rego.v1

import data.lib.kubernetes as k

_allowed_added_capabilities := {"NET_BIND_SERVICE"}

deny_added_capabilities contains result if {
	some c in k.all_containers
	added := object.get(k.container_security_context(c), ["capabilities", "add"], [])
	is_array(added)
	some j, cap in added
	not cap in _allowed_added_capabilities
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c), " adds Linux capability ", k.to_str(cap),
			"; only NET_BIND_SERVICE may be added. ",
			"Remove it from securityContext.capabilities.add.",
		]),
		"field": concat("", [c.path, ".securityContext.capabilities.add[", format_int(j, 10), "]"]),
	}
}
