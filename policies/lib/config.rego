# Settings supplied by the user with `--data FILE` under the `auditsvc` key:
#
#   auditsvc:
#     allowed_registries: ["registry.example.com/", "ghcr.io/acme"]
#     required_labels: ["app.kubernetes.io/name", "app.kubernetes.io/part-of"]
#
# Note: object.get(data, [...], d) cannot be used (the rule would depend on the
# whole `data` document, i.e. on itself: rego-cpp reports "Recursion detected").
package lib.config

import rego.v1

settings := s if {
	s := data.auditsvc
	is_object(s)
} else := {}

# setting("required_labels", ["app.kubernetes.io/name"])
setting(key, default_value) := object.get(settings, key, default_value)

# Registry prefixes images must come from. Empty (the default) disables the check.
allowed_registries := r if {
	r := data.auditsvc.allowed_registries
	is_array(r)
} else := []

# Labels every resource must carry.
required_labels := r if {
	r := data.auditsvc.required_labels
	is_array(r)
} else := ["app.kubernetes.io/name"]

