package main_test

import rego.v1

import data.main

test_missing_default_label_warns if {
	r := main.warn_missing_labels with input.apiVersion as "v1"
		with input.kind as "ConfigMap"
		with input.metadata as {"name": "cfg", "labels": {"team": "a"}}
	r == {{
		"msg": "required label \"app.kubernetes.io/name\" is missing or empty. Add it under metadata.labels.",
		"field": "metadata.labels",
	}}
}

test_missing_labels_without_labels_points_at_metadata if {
	r := main.warn_missing_labels with input.apiVersion as "apps/v1"
		with input.kind as "Deployment"
		with input.metadata as {"name": "web"}
	{m.field | some m in r} == {"metadata"}
}

test_default_label_present_ok if {
	r := main.warn_missing_labels with input.apiVersion as "apps/v1"
		with input.kind as "Deployment"
		with input.metadata as {"name": "web", "labels": {"app.kubernetes.io/name": "web"}}
	count(r) == 0
}

test_required_labels_from_data if {
	r := main.warn_missing_labels with input.apiVersion as "v1"
		with input.kind as "Service"
		with input.metadata as {"name": "svc", "labels": {"app.kubernetes.io/name": "svc", "team": ""}}
		with data.auditsvc.required_labels as ["team", "cost-center", "app.kubernetes.io/name"]
	count(r) == 2
	some m in r
	contains(m.msg, "\"cost-center\"")
}

test_required_labels_empty_list_disables if {
	r := main.warn_missing_labels with input.apiVersion as "v1"
		with input.kind as "Service"
		with input.metadata as {"name": "svc"}
		with data.auditsvc.required_labels as []
	count(r) == 0
}

test_labels_not_required_for_kustomization if {
	r := main.warn_missing_labels with input.apiVersion as "kustomize.config.k8s.io/v1beta1"
		with input.kind as "Kustomization"
		with input.resources as ["deploy.yaml"]
	count(r) == 0
}

test_labels_null_or_false_values if {
	r := main.warn_missing_labels with input.apiVersion as "v1"
		with input.kind as "ConfigMap"
		with input.metadata as {"name": "c", "labels": {"team": null, "tier": false}}
		with data.auditsvc.required_labels as ["team", "tier"]
	{m.msg | some m in r} == {"required label \"team\" is missing or empty. Add it under metadata.labels."}
}

test_labels_field_without_metadata if {
	r := main.warn_missing_labels with input.apiVersion as "v1"
		with input.kind as "Namespace"
	r == {{
		"msg": "required label \"app.kubernetes.io/name\" is missing or empty. Add it under metadata.labels.",
		"field": "",
	}}
}
