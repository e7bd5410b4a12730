package change_test

import rego.v1

import data.change

test_namespace_deletion_denied if {
	r := change.deny_destructive_delete with input.operation as "deleted"
		with input.resource as {"kind": "Namespace", "name": "shop"}
	r == {{
		"msg": "deleting this Namespace deletes every resource in the namespace once Flux prunes it. If that is intended, push with an override naming the change ticket.",
		"field": "",
	}}
}

test_crd_deletion_denied if {
	count(change.deny_destructive_delete) == 1 with input.operation as "deleted"
		with input.resource as {"kind": "CustomResourceDefinition", "name": "widgets.example.com"}
}

test_namespace_change_passes if {
	count(change.deny_destructive_delete) == 0 with input.operation as "modified"
		with input.resource as {"kind": "Namespace", "name": "shop"}
}

test_pvc_deletion_warns if {
	r := change.warn_data_loss_delete with input.operation as "deleted"
		with input.resource as {"kind": "PersistentVolumeClaim", "namespace": "db", "name": "data"}
	count(r) == 1
	count(change.deny_destructive_delete) == 0 with input.operation as "deleted"
		with input.resource as {"kind": "PersistentVolumeClaim", "namespace": "db", "name": "data"}
}

test_configmap_deletion_passes if {
	count(change.warn_data_loss_delete) == 0 with input.operation as "deleted"
		with input.resource as {"kind": "ConfigMap", "name": "cfg"}
}
