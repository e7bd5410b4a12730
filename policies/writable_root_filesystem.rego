# warn_writable_root_filesystem: containers should use a read-only root filesystem.
package main

import rego.v1

import data.lib.kubernetes as k

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
warn_writable_root_filesystem contains result if {
	lists := k.container_lists
	some type, cs in lists
	type != "ephemeralContainers"
	some i, c in cs
	is_object(c)
	not c.securityContext.readOnlyRootFilesystem == true
	result := {
		"msg": concat("", [
			k.container_label_at(type, i, c), " has a writable root filesystem. ",
			"Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where writes are needed.",
		]),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", _read_only_root_suffix(c)]),
	}
}

# Field path suffix of securityContext.readOnlyRootFilesystem, or of its nearest existing parent.
_read_only_root_suffix(c) := ".securityContext.readOnlyRootFilesystem" if {
	_ = c.securityContext.readOnlyRootFilesystem
} else := ".securityContext" if {
	_ = c.securityContext
} else := ""
