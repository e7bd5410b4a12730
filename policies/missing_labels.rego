# warn_missing_labels: resources should carry the required labels.
# Configure with data.auditsvc.required_labels (default ["app.kubernetes.io/name"]).
# Applies to every kind (no kinds annotation).
package main

import rego.v1

import data.lib.config
import data.lib.kubernetes as k

warn_missing_labels contains result if {
	required := config.required_labels
	some label in required
	is_string(label)
	not _label_set(label)
	_labels_apply
	result := {
		"msg": concat("", [
			"required label \"", label, "\" is missing or empty. ",
			"Add it under metadata.labels.",
		]),
		"field": _labels_field,
	}
}

# metadata.labels[label] is present and neither "" nor null.
_label_set(label) if {
	v := input.metadata.labels[label]
	v != ""
	v != null
}

# Only real Kubernetes objects (not kustomize/flux build configs without metadata).
_labels_apply if {
	input.kind != ""
	input.kind != "List"
	v := input.apiVersion
	v != ""
	not startswith(v, "kustomize.config.k8s.io/")
}

# metadata.labels, or its nearest existing parent.
_labels_field := "metadata.labels" if {
	_ = input.metadata.labels
} else := "metadata" if {
	_ = input.metadata
} else := ""
