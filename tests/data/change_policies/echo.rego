# Test-only change rules: one reports what a change-aware rule sees, one uses the previous version.
package change

import rego.v1

warn_echo contains msg if {
	input.resource.kind == "Deployment"
	msg := concat(" ", [
		input.operation, input.resource.kind, input.resource.namespace, input.resource.name, input.path,
		"author", input.commit.author.email, "signature", input.commit.signature.status,
		"ref", input.push.ref, "pusher", input.push.pusher.name, "options", concat(",", input.push.options),
		"diff", concat(",", [d.path | some d in input.diff]),
	])
}

deny_scale_to_zero contains result if {
	input.operation == "modified"
	input.old_object.spec.replicas > 0
	input.object.spec.replicas == 0
	not "scale-to-zero" in input.push.options
	result := {"msg": "scaling to zero needs -o scale-to-zero", "field": "spec.replicas"}
}
