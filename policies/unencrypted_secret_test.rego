package main_test

import rego.v1

import data.main

test_plain_secret_denied if {
	r := main.deny_unencrypted_secret with input.apiVersion as "v1"
		with input.kind as "Secret"
		with input.metadata as {"name": "db"}
		with input.type as "Opaque"
		with input.data as {"password": "aHVudGVyMg=="}
	r == {{
		"msg": "Secret values in data are committed unencrypted (the file has no SOPS metadata; base64 is an encoding, not encryption). Encrypt it with SOPS (sops --encrypt --encrypted-regex '^(data|stringData)$' -i FILE) or replace it with a SealedSecret/ExternalSecret.",
		"field": "data",
	}}
}

test_plain_secret_string_data_denied if {
	r := main.deny_unencrypted_secret with input.apiVersion as "v1"
		with input.kind as "Secret"
		with input.metadata as {"name": "db"}
		with input.stringData as {"password": "hunter2"}
	{m.field | some m in r} == {"stringData"}
}

test_sops_encrypted_secret_allowed if {
	r := main.deny_unencrypted_secret with input.apiVersion as "v1"
		with input.kind as "Secret"
		with input.metadata as {"name": "db"}
		with input.data as {"password": "ENC[AES256_GCM,data:abcd,iv:efgh,tag:ijkl,type:str]"}
		with input.sops as {
			"mac": "ENC[AES256_GCM,data:xyz,iv:a,tag:b,type:str]",
			"lastmodified": "2024-05-01T10:00:00Z",
			"age": [{"recipient": "age1xyz", "enc": "-----BEGIN AGE ENCRYPTED FILE-----"}],
			"version": "3.8.1",
		}
	count(r) == 0
}

test_sops_secret_with_plaintext_value_denied if {
	r := main.deny_unencrypted_secret with input.apiVersion as "v1"
		with input.kind as "Secret"
		with input.metadata as {"name": "tls"}
		with input.data as {"tls.key": "ENC[AES256_GCM,data:abcd,iv:efgh,tag:ijkl,type:str]", "tls.crt": "LS0tLS1CRUdJTi=="}
		with input.sops as {"mac": "ENC[AES256_GCM,data:xyz]", "lastmodified": "2024-05-01T10:00:00Z"}
	{m.field | some m in r} == {"data[\"tls.crt\"]"}
}

test_fake_sops_block_without_mac_denied if {
	r := main.deny_unencrypted_secret with input.apiVersion as "v1"
		with input.kind as "Secret"
		with input.metadata as {"name": "db"}
		with input.data as {"password": "ENC[AES256_GCM,data:abcd]"}
		with input.sops as {"version": "3.8.1"}
	count(r) == 1
}

test_empty_secret_allowed if {
	r := main.deny_unencrypted_secret with input.apiVersion as "v1"
		with input.kind as "Secret"
		with input.metadata as {"name": "sa-token", "annotations": {"kubernetes.io/service-account.name": "sa"}}
		with input.type as "kubernetes.io/service-account-token"
	count(r) == 0
}

test_sealed_secret_allowed if {
	r := main.deny_unencrypted_secret with input.apiVersion as "bitnami.com/v1alpha1"
		with input.kind as "SealedSecret"
		with input.metadata as {"name": "db"}
		with input.spec as {"encryptedData": {"password": "AgBy3i4OJSWK+PiTySYZZA=="}}
	count(r) == 0
}
