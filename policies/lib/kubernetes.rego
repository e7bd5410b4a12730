# Shared helpers for the bundled auditsvc policies.
#
# `input` is ONE Kubernetes resource document. Helpers here never fail on
# unexpected shapes: they are simply undefined / empty for non-workloads.
#
# NOTE (regopy/rego-cpp 1.5.2): sprintf("...%s...", [x]) wraps some computed
# strings in quotes and ignores %q, so build strings with concat() and
# format_int() instead of sprintf().
#
# Field paths use dotted notation with [i] indices and bracket-quoted keys for
# keys that contain anything other than letters, digits, '_' or '-', e.g.
#   spec.template.spec.containers[0].securityContext.privileged
#   metadata.labels["app.kubernetes.io/name"]
# The empty string "" denotes the document root.
package lib.kubernetes

import rego.v1

# ---------------------------------------------------------------------------
# Resource identity
# ---------------------------------------------------------------------------

kind := object.get(input, "kind", "")

api_version := object.get(input, "apiVersion", "")

metadata := m if {
	m := input.metadata
	is_object(m)
} else := {}

name := to_str(object.get(metadata, "name", "<unnamed>"))

namespace := object.get(metadata, "namespace", "")

labels := l if {
	l := metadata.labels
	is_object(l)
} else := {}

# "Deployment/web" -- use it as the prefix of every message.
resource := concat("/", [to_str(kind), name])

# API group of the resource ("" for the core group).
api_group := g if {
	contains(api_version, "/")
	g := split(api_version, "/")[0]
} else := ""

# ---------------------------------------------------------------------------
# Workloads and their pod spec
# ---------------------------------------------------------------------------

# Kinds whose pod template lives at spec.template.spec.
template_kinds := {
	"Deployment",
	"StatefulSet",
	"DaemonSet",
	"ReplicaSet",
	"ReplicationController",
	"Job",
}

workload_kinds := template_kinds | {"Pod", "CronJob"}

# Kinds that run to completion (no probes expected).
batch_kinds := {"Job", "CronJob"}

is_workload if kind in workload_kinds

is_batch if kind in batch_kinds

# Field path prefix of the pod spec (string).
pod_spec_path := "spec" if kind == "Pod"

pod_spec_path := "spec.template.spec" if kind in template_kinds

pod_spec_path := "spec.jobTemplate.spec.template.spec" if kind == "CronJob"

# The pod spec object of a workload (undefined for non-workloads).
pod_spec := s if {
	kind == "Pod"
	s := input.spec
	is_object(s)
}

pod_spec := s if {
	kind in template_kinds
	s := input.spec.template.spec
	is_object(s)
}

pod_spec := s if {
	kind == "CronJob"
	s := input.spec.jobTemplate.spec.template.spec
	is_object(s)
}

# Pod-level securityContext ({} when absent).
pod_security_context := sc if {
	sc := pod_spec.securityContext
	is_object(sc)
} else := {}

# ---------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------
# Every container is described by an object:
#   {"container": <the container object>, "name": <name>, "index": i,
#    "type": "containers" | "initContainers" | "ephemeralContainers",
#    "path": "spec.template.spec.containers[0]"}

container_types := ["containers", "initContainers", "ephemeralContainers"]

# containers + initContainers + ephemeralContainers (security checks).
all_containers contains c if {
	some type in container_types
	some i, ctr in object.get(pod_spec, type, [])
	is_object(ctr)
	c := {
		"container": ctr,
		"name": to_str(object.get(ctr, "name", concat("", ["#", format_int(i, 10)]))),
		"index": i,
		"type": type,
		"path": concat("", [pod_spec_path, ".", type, "[", format_int(i, 10), "]"]),
	}
}

# Regular (app) containers only.
containers := {c | some c in all_containers; c.type == "containers"}

init_containers := {c | some c in all_containers; c.type == "initContainers"}

ephemeral_containers := {c | some c in all_containers; c.type == "ephemeralContainers"}

# containers + initContainers (the ones that may declare resources).
regular_and_init_containers := containers | init_containers

# "container \"app\"" / "init container \"setup\"" / "ephemeral container \"dbg\""
container_label(c) := concat("", ["container \"", c.name, "\""]) if c.type == "containers"

container_label(c) := concat("", ["init container \"", c.name, "\""]) if c.type == "initContainers"

container_label(c) := concat("", ["ephemeral container \"", c.name, "\""]) if c.type == "ephemeralContainers"

# Container-level securityContext ({} when absent).
container_security_context(c) := sc if {
	sc := c.container.securityContext
	is_object(sc)
} else := {}

# ---------------------------------------------------------------------------
# Field path helpers
# ---------------------------------------------------------------------------

# Path segment for one key: ".name" or ["app.kubernetes.io/name"].
key_segment(k) := concat("", [".", k]) if {
	is_string(k)
	regex.match(`^[A-Za-z0-9_-]+$`, k)
} else := concat("", ["[", format_int(k, 10), "]"]) if {
	is_number(k)
} else := concat("", ["[\"", k, "\"]"])

# Join a base path and one key, e.g. field("metadata.labels", "app.kubernetes.io/name").
field(base, k) := trim_prefix(concat("", [base, key_segment(k)]), ".")

# Join a base path and a list of keys.
field_path(base, keys) := trim_prefix(concat("", [base, concat("", [key_segment(k) | some k in keys])]), ".")

_present(obj, keys) if object.get(obj, keys, "__auditsvc_absent__") != "__auditsvc_absent__"

# Path of the deepest existing prefix of `keys` under `obj` (whose own path is
# `base`). Use it to point at the nearest existing parent of a missing field.
nearest_field(obj, base, keys) := field_path(base, array.slice(keys, 0, n)) if {
	n := max({i | some i in numbers.range(0, count(keys)); _present(obj, array.slice(keys, 0, i))})
}

# Path of `keys` inside container c, or of its nearest existing parent.
container_field(c, keys) := nearest_field(c.container, c.path, keys)

# Path of `keys` inside the pod spec, or of its nearest existing parent.
pod_field(keys) := nearest_field(pod_spec, pod_spec_path, keys)

# Path of `keys` inside the whole document, or of its nearest existing parent.
doc_field(keys) := nearest_field(input, "", keys)

# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------

# True if the image reference is pinned by digest.
image_has_digest(image) if contains(image, "@")

# Tag of an image reference ("" when untagged). Registry ports
# (registry:5000/app) are not mistaken for tags.
image_tag(image) := t if {
	not image_has_digest(image)
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	t := split(last, ":")[1]
} else := ""

# Fully qualified repository name: "nginx" -> "docker.io/library/nginx".
image_repository(image) := repo if {
	no_digest := split(image, "@")[0]
	parts := split(no_digest, "/")
	last := parts[count(parts) - 1]
	last_no_tag := split(last, ":")[0]
	repo_parts := array.concat(array.slice(parts, 0, count(parts) - 1), [last_no_tag])
	repo := _qualify(repo_parts)
}

_qualify(parts) := concat("/", array.concat(["docker.io", "library"], parts)) if {
	count(parts) == 1
} else := concat("/", ["docker.io", "library", parts[1]]) if {
	count(parts) == 2
	parts[0] in {"docker.io", "index.docker.io"}
} else := concat("/", array.concat(["docker.io"], parts)) if {
	not _is_registry_host(parts[0])
} else := concat("/", parts)

_is_registry_host(h) if contains(h, ".")

_is_registry_host(h) if contains(h, ":")

_is_registry_host("localhost")

# ---------------------------------------------------------------------------
# Misc
# ---------------------------------------------------------------------------

# Any value as a string (for messages).
to_str(x) := x if {
	is_string(x)
} else := json.marshal(x)
