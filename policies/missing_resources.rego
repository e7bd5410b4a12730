# deny_missing_resources: containers must declare cpu/memory requests and a memory limit.
# Without requests the scheduler overcommits nodes; without a memory limit one
# container can exhaust node memory and get neighbours OOM-killed.
package main

import rego.v1

import data.lib.kubernetes as k

_required_resources := [["requests", "cpu"], ["requests", "memory"], ["limits", "memory"]]

deny_missing_resources contains result if {
	some c in k.regular_and_init_containers
	some keys in _required_resources
	object.get(c.container, array.concat(["resources"], keys), "") in {"", null}
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c), " has no resources.", keys[0], ".", keys[1], ". ",
			"Set resources.", keys[0], ".", keys[1], " (e.g. from observed usage) so the pod is scheduled and bounded predictably.",
		]),
		"field": k.container_field(c, array.concat(["resources"], keys)),
	}
}
