# deny_host_path: pods must not mount hostPath volumes.
# Pod Security Standards "baseline": spec.volumes[*].hostPath
package main

import rego.v1

import data.lib.kubernetes as k

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
deny_host_path contains result if {
	volumes := k.pod_spec.volumes
	some i, vol in volumes
	vol.hostPath != null
	result := {
		"msg": concat("", [
			"volume \"", k.to_str(object.get(vol, "name", "")),
			"\" mounts hostPath \"", k.to_str(object.get(vol, ["hostPath", "path"], "")),
			"\" from the node, which allows escaping the container. ",
			"Use an emptyDir, PersistentVolumeClaim, ConfigMap/Secret or CSI volume instead.",
		]),
		"field": concat("", [k.pod_spec_path, ".volumes[", format_int(i, 10), "].hostPath"]),
	}
}
