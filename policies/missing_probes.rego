# warn_missing_probes: long-running containers should have liveness and readiness probes.
# Not applied to Jobs/CronJobs, initContainers or ephemeral containers.
package main

import rego.v1

import data.lib.kubernetes as k

_probe_purpose := {
	"livenessProbe": "restart it when it hangs",
	"readinessProbe": "keep traffic away until it is ready",
}

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController]
warn_missing_probes contains result if {
	input.kind != "Job"
	input.kind != "CronJob"
	cs := k.pod_spec.containers
	some i, c in cs
	is_object(c)
	some probe in ["livenessProbe", "readinessProbe"]
	not c[probe] != null
	result := {
		"msg": concat("", [
			k.container_label_at("containers", i, c), " has no ", probe, ". ",
			"Add a ", probe, " (httpGet, tcpSocket, grpc or exec) so Kubernetes can ",
			_probe_purpose[probe], ".",
		]),
		"field": concat("", [k.pod_spec_path, ".containers[", format_int(i, 10), "]"]),
	}
}
