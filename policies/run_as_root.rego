# deny_run_as_root: every container must run as a non-root user.
# Pod Security Standards "restricted": runAsNonRoot must be true (container
# level overrides pod level) and runAsUser must not be 0.
package main

import rego.v1

import data.lib.kubernetes as k

# Effective runAsNonRoot of container c and where it is set.
_run_as_non_root(c) := {"value": v, "field": k.container_field(c, ["securityContext", "runAsNonRoot"]), "level": "container"} if {
	v := object.get(k.container_security_context(c), "runAsNonRoot", null)
	v != null
} else := {"value": v, "field": k.pod_field(["securityContext", "runAsNonRoot"]), "level": "pod"} if {
	v := object.get(k.pod_security_context, "runAsNonRoot", null)
	v != null
} else := {"value": null, "field": k.container_field(c, ["securityContext", "runAsNonRoot"]), "level": ""}

# Effective runAsUser of container c and where it is set.
_run_as_user(c) := {"value": v, "field": k.container_field(c, ["securityContext", "runAsUser"]), "level": "container"} if {
	v := object.get(k.container_security_context(c), "runAsUser", null)
	v != null
} else := {"value": v, "field": k.pod_field(["securityContext", "runAsUser"]), "level": "pod"} if {
	v := object.get(k.pod_security_context, "runAsUser", null)
	v != null
}

deny_run_as_root contains result if {
	some c in k.all_containers
	s := _run_as_non_root(c)
	s.value == null
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c),
			" may run as root: securityContext.runAsNonRoot is not set in the container or the pod. ",
			"Set securityContext.runAsNonRoot: true (and a non-zero runAsUser) in the pod or container.",
		]),
		"field": s.field,
	}
}

deny_run_as_root contains result if {
	some c in k.all_containers
	s := _run_as_non_root(c)
	s.value != null
	s.value != true
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c),
			" may run as root: ", s.level, "-level securityContext.runAsNonRoot is ", k.to_str(s.value), ". ",
			"Set securityContext.runAsNonRoot: true.",
		]),
		"field": s.field,
	}
}

deny_run_as_root contains result if {
	some c in k.all_containers
	u := _run_as_user(c)
	u.value == 0
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c),
			" runs as root: ", u.level, "-level securityContext.runAsUser is 0. ",
			"Set runAsUser to a non-zero UID (e.g. 10001).",
		]),
		"field": u.field,
	}
}
