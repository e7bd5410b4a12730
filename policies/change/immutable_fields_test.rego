package change_test

import rego.v1

import data.change

_deployment(selector) := {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": selector}, "replicas": 2}}

test_changed_selector_denied if {
	r := change.deny_immutable_field with input.operation as "modified"
		with input.resource as {"kind": "Deployment", "name": "web"}
		with input.old_object as _deployment({"app": "web"})
		with input.object as _deployment({"app": "web2"})
	r == {{
		"msg": "spec.selector cannot change on an existing Deployment (the API server refuses it, so the apply fails and the cluster keeps the old version). Create the resource under a new name and delete the old one instead.",
		"field": "spec.selector",
	}}
}

test_other_fields_pass if {
	count(change.deny_immutable_field) == 0 with input.operation as "modified"
		with input.resource as {"kind": "Deployment", "name": "web"}
		with input.old_object as _deployment({"app": "web"})
		with input.object as {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}}, "replicas": 5}}
}

test_creation_passes if {
	count(change.deny_immutable_field) == 0 with input.operation as "created"
		with input.resource as {"kind": "Deployment", "name": "web"}
		with input.old_object as null
		with input.object as _deployment({"app": "web"})
}

test_statefulset_volume_claim_templates_denied if {
	r := change.deny_immutable_field with input.operation as "renamed"
		with input.resource as {"kind": "StatefulSet", "name": "db"}
		with input.old_object as {"spec": {"serviceName": "db", "volumeClaimTemplates": [{"metadata": {"name": "data"}}]}}
		with input.object as {"spec": {"serviceName": "db", "volumeClaimTemplates": [{"metadata": {"name": "data2"}}]}}
	{m.field | some m in r} == {"spec.volumeClaimTemplates"}
}

test_immutable_configmap_data_denied if {
	r := change.deny_immutable_field with input.operation as "modified"
		with input.resource as {"kind": "ConfigMap", "name": "cfg"}
		with input.old_object as {"immutable": true, "data": {"a": "1"}}
		with input.object as {"immutable": true, "data": {"a": "2"}}
	{m.field | some m in r} == {"data"}
}

test_mutable_configmap_passes if {
	count(change.deny_immutable_field) == 0 with input.operation as "modified"
		with input.resource as {"kind": "ConfigMap", "name": "cfg"}
		with input.old_object as {"data": {"a": "1"}}
		with input.object as {"data": {"a": "2"}}
}
