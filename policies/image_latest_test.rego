package main_test

import rego.v1

import data.main

test_latest_and_untagged_images_denied if {
	r := main.deny_image_latest with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {
			"initContainers": [{"name": "init", "image": "busybox"}],
			"containers": [
				{"name": "app", "image": "ghcr.io/acme/app:latest"},
				{"name": "pinned", "image": "ghcr.io/acme/app:1.4.2"},
				{"name": "port", "image": "registry.local:5000/acme/app"},
			],
		}}}
	{m.field | some m in r} == {
		"spec.template.spec.initContainers[0].image",
		"spec.template.spec.containers[0].image",
		"spec.template.spec.containers[2].image",
	}
}

test_latest_message if {
	r := main.deny_image_latest with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [{"name": "a", "image": "nginx:latest"}]}
	r == {{
		"msg": "container \"a\" uses image \"nginx:latest\" with the mutable :latest tag. Pin an immutable version tag (e.g. :1.4.2) or a digest (@sha256:...).",
		"field": "spec.containers[0].image",
	}}
}

test_untagged_image_in_cronjob_denied if {
	r := main.deny_image_latest with input.kind as "CronJob"
		with input.metadata as {"name": "cj"}
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "alpine"}]}}}}}
	some m in r
	m.field == "spec.jobTemplate.spec.template.spec.containers[0].image"
	contains(m.msg, "without a tag")
}

test_digest_and_version_tags_allowed if {
	r := main.deny_image_latest with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {"containers": [
			{"name": "a", "image": "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			{"name": "b", "image": "nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			{"name": "c", "image": "registry.local:5000/acme/app:2.0.1"},
		]}}}
	count(r) == 0
}

test_image_tag_edge_cases if {
	r := main.deny_image_latest with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [
			{"name": "a", "image": "app:latest:extra"},
			{"name": "b", "image": "registry.local:5000/team/app:"},
			{"name": "c", "image": "team/app:1.0/sub"},
			{"name": "d", "image": "registry.local:5000/team/app:1.0"},
			{"name": "e", "image": ""},
			{"name": "f", "image": 5},
		]}
	{m.field | some m in r} == {"spec.containers[0].image", "spec.containers[1].image", "spec.containers[2].image"}
}
