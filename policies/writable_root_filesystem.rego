# warn_writable_root_filesystem: containers should use a read-only root filesystem.
package main

import rego.v1

import data.lib.kubernetes as k

warn_writable_root_filesystem contains result if {
	some c in k.regular_and_init_containers
	object.get(k.container_security_context(c), "readOnlyRootFilesystem", false) != true
	result := {
		"msg": concat("", [
			k.resource, ": ", k.container_label(c), " has a writable root filesystem. ",
			"Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where writes are needed.",
		]),
		"field": k.container_field(c, ["securityContext", "readOnlyRootFilesystem"]),
	}
}
