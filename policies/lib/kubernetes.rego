# Shared helpers for the bundled auditsvc policies.
#
# `input` is ONE Kubernetes resource document. Helpers here never fail on
# unexpected shapes: they are simply undefined / empty for non-workloads.
#
# Kept deliberately small: rego-cpp's cost per query grows with the amount of
# compiled policy code, used or not (see policies/README.md, "Writing fast
# rules"). Rules (no arguments) are computed once per document and cached;
# functions run at every call. The hot-path helpers are rules that build no
# strings (`pod_spec`, `container_lists`); the string helpers (`pod_spec_path`,
# `container_label_at`) are for the message of a violation that already
# matched. Messages do not name the resource: auditsvc reports it beside them.
#
# NOTE (regopy/rego-cpp 1.5.2): sprintf("...%s...", [x]) wraps some computed
# strings in quotes and ignores %q, so build strings with concat() and
# format_int() instead of sprintf().
#
# Field paths use dotted notation with [i] indices, e.g.
#   spec.template.spec.containers[0].securityContext.privileged
# The empty string "" denotes the document root. Build a container's with
#   concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", ...])
package lib.kubernetes

import rego.v1

# Any value as a string (for messages).
to_str(x) := x if {
	is_string(x)
} else := json.marshal(x)

# ---------------------------------------------------------------------------
# Workloads and their pod spec
# ---------------------------------------------------------------------------

# The pod spec object of a workload (undefined for other kinds).
pod_spec := s if {
	input.kind == "Pod"
	s := input.spec
	is_object(s)
}

pod_spec := s if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}
	s := input.spec.template.spec
	is_object(s)
}

pod_spec := s if {
	input.kind == "CronJob"
	s := input.spec.jobTemplate.spec.template.spec
	is_object(s)
}

# Field path of the pod spec ("spec.template.spec"; undefined for other kinds).
pod_spec_path := "spec" if input.kind == "Pod"

pod_spec_path := "spec.template.spec" if input.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"}

pod_spec_path := "spec.jobTemplate.spec.template.spec" if input.kind == "CronJob"

# ---------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------

# The container lists of the pod spec by type, only the types present:
#   {"containers": [...], "initContainers": [...], "ephemeralContainers": [...]}
# Bind it to a local variable, then iterate (iterating a rule reference
# directly is several times slower in rego-cpp):
#
#   lists := k.container_lists
#   some type, cs in lists
#   some i, c in cs
container_lists := {t: cs | some t in ["containers", "initContainers", "ephemeralContainers"]; cs := pod_spec[t]}

# `container "app"` / `init container "setup"` / `ephemeral container "dbg"`
# for container c at index i of list `type` ("#<i>" when it has no name).
container_label_at(type, i, c) := concat("", [replace(trim_suffix(type, "s"), "C", " c"), " \"", _container_name(i, c), "\""])

_container_name(i, c) := to_str(n) if {
	n := c.name
} else := concat("", ["#", format_int(i, 10)])
