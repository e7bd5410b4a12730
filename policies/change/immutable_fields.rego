# deny_immutable_field: a change to a field the Kubernetes API server refuses to
# change on an existing object. The apply fails (Flux reports the Kustomization
# not ready) and the cluster keeps the old version while Git claims the new one.
package change

import rego.v1

_immutable := {
	"Deployment": [["spec", "selector"]],
	"ReplicaSet": [["spec", "selector"]],
	"DaemonSet": [["spec", "selector"]],
	"StatefulSet": [
		["spec", "selector"],
		["spec", "serviceName"],
		["spec", "volumeClaimTemplates"],
		["spec", "podManagementPolicy"],
	],
	"Job": [["spec", "selector"], ["spec", "completions"]],
	"PersistentVolumeClaim": [
		["spec", "storageClassName"],
		["spec", "accessModes"],
		["spec", "volumeMode"],
		["spec", "volumeName"],
		["spec", "selector"],
	],
}

# `changed` lists every path above: the rule runs only for changes touching one.
# METADATA
# custom:
#   kinds: [Deployment, ReplicaSet, DaemonSet, StatefulSet, Job, PersistentVolumeClaim]
#   changed: [spec.selector, spec.serviceName, spec.volumeClaimTemplates, spec.podManagementPolicy,
#     spec.completions, spec.storageClassName, spec.accessModes, spec.volumeMode, spec.volumeName]
deny_immutable_field contains result if {
	input.operation in {"modified", "renamed"}
	is_object(input.old_object)
	some path in _immutable[input.resource.kind]
	before := object.get(input.old_object, path, null)
	after := object.get(input.object, path, null)
	before != after
	field := concat(".", path)
	result := {
		"msg": concat("", [
			field, " cannot change on an existing ", input.resource.kind,
			" (the API server refuses it, so the apply fails and the cluster keeps the old version). ",
			"Create the resource under a new name and delete the old one instead.",
		]),
		"field": field,
	}
}

# METADATA
# custom:
#   kinds: [ConfigMap, Secret]
#   changed: [data, binaryData, stringData, immutable]
deny_immutable_field contains result if {
	input.operation in {"modified", "renamed"}
	input.old_object.immutable == true
	some field in ["data", "binaryData", "stringData", "immutable"]
	object.get(input.old_object, field, null) != object.get(input.object, field, null)
	result := {
		"msg": concat("", [
			input.resource.kind, " is marked immutable: ", field, " cannot change (the apply fails). ",
			"Create a new ", input.resource.kind, " under a new name and point its users at it.",
		]),
		"field": field,
	}
}
