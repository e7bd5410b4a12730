package main_test

import rego.v1

import data.main

test_writable_root_filesystem_warns if {
	r := main.warn_writable_root_filesystem with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
		with input.spec as {"template": {"spec": {
			"initContainers": [{"name": "init"}],
			"containers": [
				{"name": "ro", "securityContext": {"readOnlyRootFilesystem": true}},
				{"name": "rw", "securityContext": {"readOnlyRootFilesystem": false}},
			],
		}}}
	{m.field | some m in r} == {
		"spec.template.spec.initContainers[0]",
		"spec.template.spec.containers[1].securityContext.readOnlyRootFilesystem",
	}
}

test_read_only_root_filesystem_ok if {
	r := main.warn_writable_root_filesystem with input.kind as "Pod"
		with input.metadata as {"name": "p"}
		with input.spec as {"containers": [{"name": "a", "securityContext": {"readOnlyRootFilesystem": true}}]}
	count(r) == 0
}
