package main_test

import rego.v1

import data.main

test_ingress_without_tls_denied if {
	r := main.deny_ingress_without_tls with input.apiVersion as "networking.k8s.io/v1"
		with input.kind as "Ingress"
		with input.metadata as {"name": "web"}
		with input.spec as {"rules": [{"host": "web.example.com"}]}
	r == {{
		"msg": "the Ingress has no spec.tls, so traffic is served over plain HTTP. Add a spec.tls entry (hosts + secretName, e.g. issued by cert-manager).",
		"field": "spec",
	}}
}

test_ingress_empty_tls_denied if {
	r := main.deny_ingress_without_tls with input.apiVersion as "networking.k8s.io/v1"
		with input.kind as "Ingress"
		with input.metadata as {"name": "web"}
		with input.spec as {"tls": [], "rules": [{"host": "web.example.com"}]}
	{m.field | some m in r} == {"spec.tls"}
}

test_ingress_host_not_covered_denied if {
	r := main.deny_ingress_without_tls with input.apiVersion as "networking.k8s.io/v1"
		with input.kind as "Ingress"
		with input.metadata as {"name": "web"}
		with input.spec as {
			"tls": [{"hosts": ["web.example.com", "*.apps.example.com"], "secretName": "web-tls"}],
			"rules": [
				{"host": "web.example.com"},
				{"host": "api.apps.example.com"},
				{"host": "admin.example.com"},
				{"host": "deep.api.apps.example.com"},
			],
		}
	{m.field | some m in r} == {"spec.rules[2].host", "spec.rules[3].host"}
}

test_ingress_with_tls_allowed if {
	r := main.deny_ingress_without_tls with input.apiVersion as "networking.k8s.io/v1"
		with input.kind as "Ingress"
		with input.metadata as {"name": "web"}
		with input.spec as {
			"tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
			"rules": [{"host": "web.example.com"}],
		}
	count(r) == 0
}

test_ingress_tls_without_hosts_covers_all if {
	r := main.deny_ingress_without_tls with input.apiVersion as "networking.k8s.io/v1"
		with input.kind as "Ingress"
		with input.metadata as {"name": "web"}
		with input.spec as {"tls": [{"secretName": "wildcard"}], "rules": [{"host": "a.example.com"}]}
	count(r) == 0
}

test_other_ingress_kinds_ignored if {
	r := main.deny_ingress_without_tls with input.apiVersion as "traefik.io/v1alpha1"
		with input.kind as "Ingress"
		with input.metadata as {"name": "web"}
		with input.spec as {"rules": []}
	count(r) == 0
}
