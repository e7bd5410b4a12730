# warn_capabilities_not_dropped: containers should drop ALL capabilities.
# Pod Security Standards "restricted": capabilities.drop must include ALL.
package main

import rego.v1

import data.lib.kubernetes as k

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
warn_capabilities_not_dropped contains result if {
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	is_object(c)
	not _drops_all(c)
	result := {
		"msg": concat("", [
			k.container_label_at(type, i, c), " does not drop all Linux capabilities. ",
			"Add securityContext.capabilities.drop: [\"ALL\"] (add back only NET_BIND_SERVICE if needed).",
		]),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", _drop_suffix(c)]),
	}
}

# Field path suffix of securityContext.capabilities.drop, or of its nearest existing parent.
_drop_suffix(c) := ".securityContext.capabilities.drop" if {
	_ = c.securityContext.capabilities.drop
} else := ".securityContext.capabilities" if {
	_ = c.securityContext.capabilities
} else := ".securityContext" if {
	_ = c.securityContext
} else := ""

_drops_all(c) if {
	dropped := c.securityContext.capabilities.drop
	is_array(dropped)
	"ALL" in dropped
}
