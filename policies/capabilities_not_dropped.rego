# warn_capabilities_not_dropped: containers should drop ALL capabilities.
# Pod Security Standards "restricted": capabilities.drop must include ALL.
package main

import rego.v1

import data.lib.kubernetes as k

warn_capabilities_not_dropped contains result if {
	some c in k.all_containers
	dropped := object.get(k.container_security_context(c), ["capabilities", "drop"], [])
	not _drops_all(dropped)
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c), " does not drop all Linux capabilities. ",
			"Add securityContext.capabilities.drop: [\"ALL\"] (add back only NET_BIND_SERVICE if needed).",
		]),
		"field": k.container_field(c, ["securityContext", "capabilities", "drop"]),
	}
}

_drops_all(dropped) if {
	is_array(dropped)
	"ALL" in dropped
}
