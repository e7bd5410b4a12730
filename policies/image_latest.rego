# deny_image_latest: images must be pinned to a version tag or digest.
# ":latest" and untagged images (implicitly :latest) are not reproducible and
# break GitOps rollbacks. "image@sha256:..." is always fine.
package main

import rego.v1

import data.lib.kubernetes as k

deny_image_latest contains result if {
	some c in k.all_containers
	image := object.get(c.container, "image", "")
	is_string(image)
	image != ""
	not k.image_has_digest(image)
	problem := _latest_problem(k.image_tag(image))
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c), " uses image \"", image, "\" ", problem, ". ",
			"Pin an immutable version tag (e.g. :1.4.2) or a digest (@sha256:...).",
		]),
		"field": concat("", [c.path, ".image"]),
	}
}

_latest_problem("") := "without a tag (implicitly :latest)"

_latest_problem("latest") := "with the mutable :latest tag"
