# deny_image_registry: images must come from an allowed registry.
# Configure with data.auditsvc.allowed_registries (list of prefixes such as
# "registry.example.com", "ghcr.io/acme/"). Disabled when absent or empty.
# Docker Hub short names are normalised ("nginx" -> "docker.io/library/nginx").
package main

import rego.v1

import data.lib.config
import data.lib.kubernetes as k

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
deny_image_registry contains result if {
	# as config.allowed_registries, but stops at once when it is not set
	regs := data.auditsvc.allowed_registries
	is_array(regs)
	count(regs) > 0
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	image := c.image
	is_string(image)
	image != ""
	not _image_allowed(image)
	result := {
		"msg": concat("", [
			k.container_label_at(type, i, c), " uses image \"", image,
			"\" which is not from an allowed registry (allowed: ",
			concat(", ", [k.to_str(r) | some r in config.allowed_registries]), "). ",
			"Mirror the image into an allowed registry and reference it from there.",
		]),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", ".image"]),
	}
}

_image_allowed(image) if {
	some prefix in config.allowed_registries
	is_string(prefix)
	_matches_prefix(image, prefix)
}

_image_allowed(image) if {
	some prefix in config.allowed_registries
	is_string(prefix)
	_matches_prefix(_image_repository(image), prefix)
}

# "ghcr.io/acme" matches "ghcr.io/acme/app:1" and "ghcr.io/acme:1" but not
# "ghcr.io/acme-evil/app:1".
_matches_prefix(image, prefix) if {
	p := trim_suffix(prefix, "/")
	p != ""
	image == p
}

_matches_prefix(image, prefix) if {
	p := trim_suffix(prefix, "/")
	p != ""
	some sep in ["/", ":", "@"]
	startswith(image, concat("", [p, sep]))
}

# Fully qualified repository name: "nginx" -> "docker.io/library/nginx".
_image_repository(image) := _qualify(array.concat(array.slice(parts, 0, count(parts) - 1), [split(parts[count(parts) - 1], ":")[0]])) if {
	parts := split(split(image, "@")[0], "/")
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
