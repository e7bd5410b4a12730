package lib.kubernetes_test

import rego.v1

import data.lib.kubernetes as k

test_pod_spec_path_per_kind if {
	k.pod_spec_path == "spec" with input.kind as "Pod"
	k.pod_spec_path == "spec.template.spec" with input.kind as "Deployment"
	k.pod_spec_path == "spec.template.spec" with input.kind as "Job"
	k.pod_spec_path == "spec.jobTemplate.spec.template.spec" with input.kind as "CronJob"
}

test_no_pod_spec_for_non_workloads if {
	not k.pod_spec_path with input.kind as "Service"
	count(k.all_containers) == 0 with input.kind as "Service" with input.spec as {"containers": [{"name": "x"}]}
}

test_cronjob_containers_with_paths if {
	cs := k.all_containers with input.kind as "CronJob"
		with input.spec as {"jobTemplate": {"spec": {"template": {"spec": {
			"initContainers": [{"name": "init"}],
			"containers": [{"name": "a"}, {"name": "b"}],
			"ephemeralContainers": [{"name": "debug"}],
		}}}}}
	{[c.name, c.type, c.path] | some c in cs} == {
		["init", "initContainers", "spec.jobTemplate.spec.template.spec.initContainers[0]"],
		["a", "containers", "spec.jobTemplate.spec.template.spec.containers[0]"],
		["b", "containers", "spec.jobTemplate.spec.template.spec.containers[1]"],
		["debug", "ephemeralContainers", "spec.jobTemplate.spec.template.spec.ephemeralContainers[0]"],
	}
}

test_container_subsets if {
	spec := {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}], "ephemeralContainers": [{"name": "e"}]}
	{c.name | some c in k.containers} == {"a"} with input.kind as "Pod" with input.spec as spec
	{c.name | some c in k.init_containers} == {"i"} with input.kind as "Pod" with input.spec as spec
	{c.name | some c in k.regular_and_init_containers} == {"a", "i"} with input.kind as "Pod" with input.spec as spec
}

test_resource_name if {
	k.resource == "Deployment/web" with input.kind as "Deployment" with input.metadata as {"name": "web"}
	k.resource == "ConfigMap/<unnamed>" with input.kind as "ConfigMap" with input.metadata as {"generateName": "x-"}
}

test_field_helpers if {
	k.field("metadata.labels", "app.kubernetes.io/name") == "metadata.labels[\"app.kubernetes.io/name\"]"
	k.field("metadata", "labels") == "metadata.labels"
	k.field("", "spec") == "spec"
	k.field_path("spec.containers", [0, "image"]) == "spec.containers[0].image"
	k.nearest_field({"a": {"b": 1}}, "x", ["a", "c", "d"]) == "x.a"
	k.nearest_field({"a": {"b": 1}}, "x", ["a", "b"]) == "x.a.b"
	k.nearest_field({}, "", ["spec", "tls"]) == ""
}

test_image_tag if {
	k.image_tag("nginx") == ""
	k.image_tag("nginx:1.25") == "1.25"
	k.image_tag("registry.local:5000/team/app") == ""
	k.image_tag("registry.local:5000/team/app:latest") == "latest"
	k.image_has_digest("nginx@sha256:abc")
	not k.image_has_digest("nginx:1.25")
}

test_image_repository if {
	k.image_repository("nginx") == "docker.io/library/nginx"
	k.image_repository("docker.io/nginx:1") == "docker.io/library/nginx"
	k.image_repository("bitnami/redis:7") == "docker.io/bitnami/redis"
	k.image_repository("ghcr.io/acme/app@sha256:abc") == "ghcr.io/acme/app"
	k.image_repository("registry.local:5000/app:1") == "registry.local:5000/app"
	k.image_repository("localhost/app") == "localhost/app"
}
