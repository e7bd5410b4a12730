package lib.config_test

import rego.v1

import data.lib.config

test_defaults_without_data if {
	config.allowed_registries == []
	config.required_labels == ["app.kubernetes.io/name"]
}

test_values_from_data if {
	config.allowed_registries == ["ghcr.io/acme"] with data.auditsvc.allowed_registries as ["ghcr.io/acme"]
	config.required_labels == ["team"] with data.auditsvc.required_labels as ["team"]
	config.setting("other", 1) == 2 with data.auditsvc.other as 2
}

test_invalid_values_fall_back if {
	config.allowed_registries == [] with data.auditsvc.allowed_registries as "ghcr.io"
	config.required_labels == ["app.kubernetes.io/name"] with data.auditsvc.required_labels as null
}
