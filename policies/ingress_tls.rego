# deny_ingress_without_tls: Ingresses must terminate TLS for all their hosts.
# Only networking.k8s.io and extensions Ingresses (not other API groups'
# kinds named Ingress).
package main

import rego.v1

import data.lib.kubernetes as k

_is_ingress if {
	input.kind == "Ingress"
	split(input.apiVersion, "/")[0] in {"networking.k8s.io", "extensions"}
	contains(input.apiVersion, "/")
}

_ingress_tls := t if {
	t := input.spec.tls
	is_array(t)
} else := []

# METADATA
# scope: document
# custom:
#   kinds: [Ingress]
deny_ingress_without_tls contains result if {
	_is_ingress
	count(_ingress_tls) == 0
	result := {
		"msg": concat("", [
			"the Ingress has no spec.tls, so traffic is served over plain HTTP. ",
			"Add a spec.tls entry (hosts + secretName, e.g. issued by cert-manager).",
		]),
		"field": _ingress_tls_field,
	}
}

# TLS is configured, but a host in spec.rules is not covered by any tls entry.
deny_ingress_without_tls contains result if {
	_is_ingress
	count(_ingress_tls) > 0
	not _tls_covers_all_hosts
	some i, rule in object.get(input, ["spec", "rules"], [])
	host := object.get(rule, "host", "")
	is_string(host)
	host != ""
	not _host_covered(host)
	result := {
		"msg": concat("", [
			"host \"", host, "\" is not listed in any spec.tls[].hosts, ",
			"so it is served without TLS. Add it to a spec.tls entry.",
		]),
		"field": concat("", ["spec.rules[", format_int(i, 10), "].host"]),
	}
}

# spec.tls, or its nearest existing parent.
_ingress_tls_field := "spec.tls" if {
	_ = input.spec.tls
} else := "spec" if {
	_ = input.spec
} else := ""

# A tls entry without hosts applies the certificate to every host.
_tls_covers_all_hosts if {
	some t in _ingress_tls
	count(object.get(t, "hosts", [])) == 0
}

_host_covered(host) if {
	some t in _ingress_tls
	some h in object.get(t, "hosts", [])
	h == host
}

# "*.example.com" covers "a.example.com" (one label only).
_host_covered(host) if {
	some t in _ingress_tls
	some h in object.get(t, "hosts", [])
	startswith(h, "*.")
	suffix := substring(h, 1, -1)
	endswith(host, suffix)
	not contains(trim_suffix(host, suffix), ".")
}
