# deny_unencrypted_secret: plain Kubernetes Secrets must not be committed to Git
# unless SOPS-encrypted. base64 in `data` is an encoding, not encryption.
# A SOPS-encrypted file has a top-level `sops` block (with `mac` and
# `lastmodified`) and every value looks like ENC[AES256_GCM,data:...].
# SealedSecret / ExternalSecret kinds are not matched by this rule.
package main

import rego.v1

import data.lib.kubernetes as k

_is_plain_secret if {
	input.kind == "Secret"
	input.apiVersion == "v1"
}

_sops_encrypted if {
	s := input.sops
	is_object(s)
	object.get(s, "mac", "") != ""
	object.get(s, "lastmodified", "") != ""
}

_secret_sections := ["data", "stringData"]

# Not encrypted at all (the annotation covers both bodies).

# METADATA
# scope: document
# custom:
#   kinds: [Secret]
deny_unencrypted_secret contains result if {
	_is_plain_secret
	not _sops_encrypted
	some section in _secret_sections
	values := object.get(input, section, {})
	is_object(values)
	count(values) > 0
	result := {
		"msg": concat("", [
			"Secret values in ", section, " are committed unencrypted ",
			"(the file has no SOPS metadata; base64 is an encoding, not encryption). ",
			"Encrypt it with SOPS (sops --encrypt --encrypted-regex '^(data|stringData)$' -i FILE) ",
			"or replace it with a SealedSecret/ExternalSecret.",
		]),
		"field": section,
	}
}

# SOPS metadata present, but some values were left in clear text
# (e.g. a too narrow encrypted_regex or an unencrypted_suffix).
deny_unencrypted_secret contains result if {
	_is_plain_secret
	_sops_encrypted
	some section in _secret_sections
	values := object.get(input, section, {})
	is_object(values)
	some key, value in values
	not _sops_value(value)
	result := {
		"msg": concat("", [
			"value ", section, ".", key, " is not SOPS-encrypted although the file ",
			"has SOPS metadata. Fix encrypted_regex/unencrypted_suffix in .sops.yaml and re-encrypt.",
		]),
		"field": _key_field(section, key),
	}
}

# "data.password", or data["tls.crt"] for keys that are not plain.
_key_field(section, key) := concat("", [section, ".", key]) if {
	regex.match(`^[A-Za-z0-9_-]+$`, key)
} else := concat("", [section, "[\"", key, "\"]"])

_sops_value(v) if {
	is_string(v)
	startswith(v, "ENC[")
}
