# deny_run_as_root: every container must run as a non-root user.
# Pod Security Standards "restricted": runAsNonRoot must be true (container
# level overrides pod level) and runAsUser must not be 0.
#
# Effective runAsNonRoot of a container: its own securityContext.runAsNonRoot
# when set (not null), else the pod's. Effective runAsUser likewise. One body
# per case, so that a document where the pod sets runAsNonRoot: true and no
# container overrides it only pays for two cheap container scans.
package main

import rego.v1

import data.lib.kubernetes as k

# Pod-level runAsNonRoot, when set (not null).
_pod_run_as_non_root := v if {
	v := k.pod_spec.securityContext.runAsNonRoot
	v != null
}

_pod_run_as_non_root_set if {
	_ = _pod_run_as_non_root
}

_run_as_non_root_unset(c) if {
	is_object(c)
	object.get(c, ["securityContext", "runAsNonRoot"], null) == null
}

_run_as_user_unset(c) if {
	is_object(c)
	object.get(c, ["securityContext", "runAsUser"], null) == null
}

# Field path suffix of securityContext.runAsNonRoot, or of its nearest existing parent.
_run_as_non_root_suffix(c) := ".securityContext.runAsNonRoot" if {
	_ = c.securityContext.runAsNonRoot
} else := ".securityContext" if {
	_ = c.securityContext
} else := ""

_root_msg(type, i, c, detail) := concat("", [k.container_label_at(type, i, c), detail])

# Five bodies, one per case; the first is annotated for all of them.

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
deny_run_as_root contains result if {
	# container-level runAsNonRoot set to something other than true
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	v := c.securityContext.runAsNonRoot
	v != null
	v != true
	result := {
		"msg": _root_msg(type, i, c, concat("", [
			" may run as root: container-level securityContext.runAsNonRoot is ", k.to_str(v), ". ",
			"Set securityContext.runAsNonRoot: true.",
		])),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", ".securityContext.runAsNonRoot"]),
	}
}

deny_run_as_root contains result if {
	# not set in the container; pod-level runAsNonRoot set to something other than true
	v := _pod_run_as_non_root
	v != true
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	_run_as_non_root_unset(c)
	result := {
		"msg": _root_msg(type, i, c, concat("", [
			" may run as root: pod-level securityContext.runAsNonRoot is ", k.to_str(v), ". ",
			"Set securityContext.runAsNonRoot: true.",
		])),
		"field": concat("", [k.pod_spec_path, ".securityContext.runAsNonRoot"]),
	}
}

deny_run_as_root contains result if {
	# set neither in the container nor in the pod
	not _pod_run_as_non_root_set
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	_run_as_non_root_unset(c)
	result := {
		"msg": _root_msg(type, i, c, concat("", [
			" may run as root: securityContext.runAsNonRoot is not set in the container or the pod. ",
			"Set securityContext.runAsNonRoot: true (and a non-zero runAsUser) in the pod or container.",
		])),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", _run_as_non_root_suffix(c)]),
	}
}

deny_run_as_root contains result if {
	# container-level runAsUser: 0
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	c.securityContext.runAsUser == 0
	result := {
		"msg": _root_msg(type, i, c, concat("", [
			" runs as root: container-level securityContext.runAsUser is 0. ",
			"Set runAsUser to a non-zero UID (e.g. 10001).",
		])),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", ".securityContext.runAsUser"]),
	}
}

deny_run_as_root contains result if {
	# not set in the container; pod-level runAsUser: 0
	k.pod_spec.securityContext.runAsUser == 0
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	_run_as_user_unset(c)
	result := {
		"msg": _root_msg(type, i, c, concat("", [
			" runs as root: pod-level securityContext.runAsUser is 0. ",
			"Set runAsUser to a non-zero UID (e.g. 10001).",
		])),
		"field": concat("", [k.pod_spec_path, ".securityContext.runAsUser"]),
	}
}
