# warn_missing_labels: resources should carry the required labels.
# Configure with data.auditsvc.required_labels (default ["app.kubernetes.io/name"]).
package main

import rego.v1

import data.lib.config
import data.lib.kubernetes as k

warn_missing_labels contains result if {
	_labels_apply
	some label in config.required_labels
	is_string(label)
	object.get(k.labels, label, "") in {"", null}
	result := {
		"msg": concat("", [
			k.resource, ": required label \"", label, "\" is missing or empty. ",
			"Add it under metadata.labels.",
		]),
		"field": k.doc_field(["metadata", "labels"]),
	}
}

# Only real Kubernetes objects (not kustomize/flux build configs without metadata).
_labels_apply if {
	k.kind != ""
	k.api_version != ""
	k.kind != "List"
	not startswith(k.api_version, "kustomize.config.k8s.io/")
}
