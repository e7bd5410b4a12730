package main_test

import rego.v1

import data.main

test_helmrelease_without_version_denied if {
	r := main.deny_unpinned_helm_chart with input.apiVersion as "helm.toolkit.fluxcd.io/v2"
		with input.kind as "HelmRelease"
		with input.metadata as {"name": "podinfo", "namespace": "apps"}
		with input.spec as {"interval": "10m", "chart": {"spec": {
			"chart": "podinfo",
			"sourceRef": {"kind": "HelmRepository", "name": "podinfo"},
		}}}
	r == {{
		"msg": "chart \"podinfo\" has no spec.chart.spec.version (Flux then uses \"*\", the latest version), so chart upgrades are deployed without a reviewed Git change. Set spec.chart.spec.version to an exact version (e.g. \"1.4.2\").",
		"field": "spec.chart.spec",
	}}
}

test_helmrelease_version_ranges_denied if {
	every v in ["", " ", "*", ">=6.0.0", "^6.1.0", "~6.1.0", "6.x", "6.1.x", "6.1", "6", ">=5.0.0 <7.0.0", "6.1.0 || 6.2.0", "6.1.*", "latest"] {
		_helm_version_denied(v)
	}
}

test_helmrelease_non_string_version_denied if {
	_helm_version_denied(6)
}

_helm_version_denied(v) if {
	r := main.deny_unpinned_helm_chart with input.apiVersion as "helm.toolkit.fluxcd.io/v2beta1"
		with input.kind as "HelmRelease"
		with input.metadata as {"name": "podinfo"}
		with input.spec as {"chart": {"spec": {"chart": "podinfo", "version": v, "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}
	count(r) == 1
}

test_helmrelease_range_message if {
	r := main.deny_unpinned_helm_chart with input.apiVersion as "helm.toolkit.fluxcd.io/v2"
		with input.kind as "HelmRelease"
		with input.metadata as {"name": "podinfo"}
		with input.spec as {"chart": {"spec": {"chart": "podinfo", "version": ">=6.0.0", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}
	some m in r
	m.field == "spec.chart.spec.version"
	contains(m.msg, "uses version >=6.0.0 which is not an exact version")
}

test_helmrelease_exact_versions_allowed if {
	r1 := main.deny_unpinned_helm_chart with input.apiVersion as "helm.toolkit.fluxcd.io/v2"
		with input.kind as "HelmRelease"
		with input.metadata as {"name": "podinfo"}
		with input.spec as {"chart": {"spec": {"chart": "podinfo", "version": "6.5.4", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}
	count(r1) == 0
	r2 := main.deny_unpinned_helm_chart with input.apiVersion as "helm.toolkit.fluxcd.io/v2"
		with input.kind as "HelmRelease"
		with input.metadata as {"name": "podinfo"}
		with input.spec as {"chart": {"spec": {"chart": "podinfo", "version": "v1.2.3-rc.1+build.5", "sourceRef": {"kind": "HelmRepository", "name": "podinfo"}}}}
	count(r2) == 0
}

test_helmrelease_chart_ref_allowed if {
	r := main.deny_unpinned_helm_chart with input.apiVersion as "helm.toolkit.fluxcd.io/v2"
		with input.kind as "HelmRelease"
		with input.metadata as {"name": "podinfo"}
		with input.spec as {"chartRef": {"kind": "OCIRepository", "name": "podinfo"}}
	count(r) == 0
}

test_helmrelease_git_source_allowed if {
	r := main.deny_unpinned_helm_chart with input.apiVersion as "helm.toolkit.fluxcd.io/v2"
		with input.kind as "HelmRelease"
		with input.metadata as {"name": "app"}
		with input.spec as {"chart": {"spec": {"chart": "./charts/app", "sourceRef": {"kind": "GitRepository", "name": "mono"}}}}
	count(r) == 0
}

test_other_helmrelease_kinds_ignored if {
	r := main.deny_unpinned_helm_chart with input.apiVersion as "example.com/v1"
		with input.kind as "HelmRelease"
		with input.metadata as {"name": "x"}
		with input.spec as {"chart": "x"}
	count(r) == 0
}
