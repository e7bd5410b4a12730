package main_test

import rego.v1

import data.main

test_default_namespace_warns if {
	r := main.warn_default_namespace with input.apiVersion as "apps/v1"
		with input.kind as "Deployment"
		with input.metadata as {"name": "web", "namespace": "default"}
	r == {{
		"msg": "uses the \"default\" namespace, which has no dedicated RBAC, quotas or network policies. Use an application namespace.",
		"field": "metadata.namespace",
	}}
}

test_app_namespace_ok if {
	r := main.warn_default_namespace with input.apiVersion as "apps/v1"
		with input.kind as "Deployment"
		with input.metadata as {"name": "web", "namespace": "shop"}
	count(r) == 0
}

test_unset_namespace_ok if {
	r := main.warn_default_namespace with input.apiVersion as "apps/v1"
		with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
	count(r) == 0
}
