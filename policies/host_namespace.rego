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

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
deny_host_namespace contains result if {
	pod := k.pod_spec
	some setting in ["hostNetwork", "hostPID", "hostIPC"]
	pod[setting] == true
	result := {
		"msg": concat("", [
			setting, ": true shares ", _host_namespace_effect[setting], ". ",
			"Remove ", setting, " or set it to false.",
		]),
		"field": concat("", [k.pod_spec_path, ".", setting]),
	}
}
