# deny_image_latest: images must be pinned to a version tag or digest.
# ":latest" and untagged images (implicitly :latest) are not reproducible and
# break GitOps rollbacks. "image@sha256:..." is always fine.
package main

import rego.v1

import data.lib.kubernetes as k

_latest_problem("") := "without a tag (implicitly :latest)"

_latest_problem("latest") := "with the mutable :latest tag"

# METADATA
# scope: document
# custom:
#   kinds: [Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob]
deny_image_latest contains result if {
	lists := k.container_lists
	some type, cs in lists
	some i, c in cs
	image := c.image
	is_string(image)
	image != ""
	# no digest; the tag is the second ":"-separated part of the last
	# "/"-separated segment (a registry port is not a tag), "" when missing
	not contains(image, "@")
	parts := split(image, "/")
	problem := _latest_problem(array.concat(split(parts[count(parts) - 1], ":"), [""])[1])
	result := {
		"msg": concat("", [
			k.container_label_at(type, i, c), " uses image \"", image, "\" ", problem, ". ",
			"Pin an immutable version tag (e.g. :1.4.2) or a digest (@sha256:...).",
		]),
		"field": concat("", [k.pod_spec_path, ".", type, "[", format_int(i, 10), "]", ".image"]),
	}
}
