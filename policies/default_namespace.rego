# warn_default_namespace: resources should not be deployed to the "default" namespace.
# Applies to every kind (no kinds annotation).
package main

import rego.v1

import data.lib.kubernetes as k

warn_default_namespace contains result if {
	input.metadata.namespace == "default"
	result := {
		"msg": concat("", [
			"uses the \"default\" namespace, which has no dedicated ",
			"RBAC, quotas or network policies. Use an application namespace.",
		]),
		"field": "metadata.namespace",
	}
}
