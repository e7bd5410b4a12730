# deny_image_registry: images must come from an allowed registry.
# Configure with data.auditsvc.allowed_registries (list of prefixes such as
# "registry.example.com", "ghcr.io/acme/"). Disabled when absent or empty.
# Docker Hub short names are normalised ("nginx" -> "docker.io/library/nginx").
package main

import rego.v1

import data.lib.config
import data.lib.kubernetes as k

deny_image_registry contains result if {
	count(config.allowed_registries) > 0
	some c in k.all_containers
	image := object.get(c.container, "image", "")
	is_string(image)
	image != ""
	not _image_allowed(image)
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c), " uses image \"", image,
			"\" which is not from an allowed registry (allowed: ",
			concat(", ", [k.to_str(r) | some r in config.allowed_registries]), "). ",
			"Mirror the image into an allowed registry and reference it from there.",
		]),
		"field": concat("", [c.path, ".image"]),
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
	_matches_prefix(k.image_repository(image), prefix)
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
