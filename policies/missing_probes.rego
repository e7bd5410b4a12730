# warn_missing_probes: long-running containers should have liveness and readiness probes.
# Not applied to Jobs/CronJobs, initContainers or ephemeral containers.
package main

import rego.v1

import data.lib.kubernetes as k

warn_missing_probes contains result if {
	not k.is_batch
	some c in k.containers
	some probe in ["livenessProbe", "readinessProbe"]
	object.get(c.container, probe, null) == null
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c), " has no ", probe, ". ",
			"Add a ", probe, " (httpGet, tcpSocket, grpc or exec) so Kubernetes can ",
			_probe_purpose[probe], ".",
		]),
		"field": c.path,
	}
}

_probe_purpose := {
	"livenessProbe": "restart it when it hangs",
	"readinessProbe": "keep traffic away until it is ready",
}
