# deny_missing_resources: containers must declare cpu/memory requests and a memory limit.
# Without requests the scheduler overcommits nodes; without a memory limit one
# container can exhaust node memory and get neighbours OOM-killed.
package main

import rego.v1

import data.lib.kubernetes as k

_required_resources := [["requests", "cpu"], ["requests", "memory"], ["limits", "memory"]]

# Missing or empty ("" or null). Two function heads are cheaper in rego-cpp
# than `x in {"", null}`, which builds the set at every evaluation.
_blank("")

_blank(null)

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
deny_missing_resources contains result if {
	lists := k.container_lists
	some type, cs in lists
	type != "ephemeralContainers"
	some i, c in cs
	is_object(c)
	some keys in _required_resources
	_blank(object.get(c, ["resources", keys[0], keys[1]], ""))
	result := {
		"msg": concat("", [
			k.container_label_at(type, i, c), " has no resources.", keys[0], ".", keys[1], ". ",
			"Set resources.", keys[0], ".", keys[1], " (e.g. from observed usage) so the pod is scheduled and bounded predictably.",
		]),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", _resource_suffix(c, keys[0], keys[1])]),
	}
}

# Field path suffix of resources.<a>.<b>, or of its nearest existing parent.
_resource_suffix(c, a, b) := concat("", [".resources.", a, ".", b]) if {
	_ = c.resources[a][b]
} else := concat("", [".resources.", a]) if {
	_ = c.resources[a]
} else := ".resources" if {
	_ = c.resources
} else := ""
