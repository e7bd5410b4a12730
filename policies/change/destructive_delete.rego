# Deleting some resources destroys more than the manifest: Flux prunes what Git
# no longer declares, so the deletion happens in the cluster too.
package change

import rego.v1

_cascades := {
	"Namespace": "every resource in the namespace",
	"CustomResourceDefinition": "every custom resource of that kind in the cluster",
}

_holds_data := {
	"PersistentVolumeClaim": "its volume (and its data, if the reclaim policy is Delete)",
	"PersistentVolume": "the volume and, with reclaim policy Delete, its data",
}

# METADATA
# scope: document
# custom:
#   kinds: [Namespace, CustomResourceDefinition]
deny_destructive_delete contains result if {
	input.operation == "deleted"
	what := _cascades[input.resource.kind]
	result := {
		"msg": concat("", [
			"deleting this ", input.resource.kind, " deletes ", what, " once Flux prunes it. ",
			"If that is intended, push with an override naming the change ticket.",
		]),
		"field": "",
	}
}

# METADATA
# scope: document
# custom:
#   kinds: [PersistentVolumeClaim, PersistentVolume]
warn_data_loss_delete contains result if {
	input.operation == "deleted"
	what := _holds_data[input.resource.kind]
	result := {
		"msg": concat("", [
			"deleting this ", input.resource.kind, " deletes ", what, " once Flux prunes it. ",
			"Back the data up first, or keep the resource with the kustomize.toolkit.fluxcd.io/prune: disabled annotation.",
		]),
		"field": "",
	}
}
