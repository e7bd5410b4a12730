# deny_host_namespace: pods must not share the node's network, PID or IPC namespace.
# Pod Security Standards "baseline": hostNetwork, hostPID, hostIPC
package main

import rego.v1

import data.lib.kubernetes as k

_host_namespace_effect := {
	"hostNetwork": "the node's network namespace (it can sniff and bind node traffic)",
	"hostPID": "the node's process namespace (it can see and signal every process)",
	"hostIPC": "the node's IPC namespace (it can read shared memory of other pods)",
}

deny_host_namespace contains result if {
	some setting, effect in _host_namespace_effect
	object.get(k.pod_spec, setting, false) == true
	result := {
		"msg": concat("", [
			k.resource, ": ", setting, ": true shares ", effect, ". ",
			"Remove ", setting, " or set it to false.",
		]),
		"field": k.pod_field([setting]),
	}
}
