package main_test

import rego.v1

import data.main

test_registry_check_disabled_without_data if {
	r := main.deny_image_registry with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [{"name": "a", "image": "evil.example.com/x:1"}]}
	count(r) == 0
}

test_registry_check_disabled_with_empty_list if {
	r := main.deny_image_registry with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [{"name": "a", "image": "evil.example.com/x:1"}]}
		with data.auditsvc.allowed_registries as []
	count(r) == 0
}

test_disallowed_registry_denied if {
	r := main.deny_image_registry with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {
			"initContainers": [{"name": "init", "image": "docker.io/library/busybox:1.36"}],
			"containers": [
				{"name": "ok", "image": "registry.example.com/team/app:1.0.0"},
				{"name": "evil", "image": "ghcr.io/acme-evil/app:1.0.0"},
				{"name": "acme", "image": "ghcr.io/acme/app:1.0.0"},
			],
		}}}
		with data.auditsvc.allowed_registries as ["registry.example.com", "ghcr.io/acme/"]
	{m.field | some m in r} == {
		"spec.template.spec.initContainers[0].image",
		"spec.template.spec.containers[1].image",
	}
}

test_disallowed_registry_message if {
	r := main.deny_image_registry with input.kind as "CronJob"
		with input.metadata as {"name": "cj"}
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "nginx:1.25"}]}}}}}
		with data.auditsvc.allowed_registries as ["registry.example.com"]
	r == {{
		"msg": "container \"a\" uses image \"nginx:1.25\" which is not from an allowed registry (allowed: registry.example.com). Mirror the image into an allowed registry and reference it from there.",
		"field": "spec.jobTemplate.spec.template.spec.containers[0].image",
	}}
}

test_docker_hub_short_names_normalised if {
	r := main.deny_image_registry with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [
			{"name": "a", "image": "nginx:1.25"},
			{"name": "b", "image": "docker.io/library/redis:7"},
			{"name": "c", "image": "bitnami/redis:7"},
		]}
		with data.auditsvc.allowed_registries as ["docker.io/library"]
	{m.field | some m in r} == {"spec.containers[2].image"}
}

test_image_repository if {
	main._image_repository("nginx") == "docker.io/library/nginx"
	main._image_repository("docker.io/nginx:1") == "docker.io/library/nginx"
	main._image_repository("bitnami/redis:7") == "docker.io/bitnami/redis"
	main._image_repository("ghcr.io/acme/app@sha256:abc") == "ghcr.io/acme/app"
	main._image_repository("registry.local:5000/app:1") == "registry.local:5000/app"
	main._image_repository("localhost/app") == "localhost/app"
}
