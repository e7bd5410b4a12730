# deny_unpinned_helm_chart: Flux HelmReleases must pin an exact chart version.
# spec.chart.spec.version missing (Flux default "*"), empty, "*", or a semver
# range (">=1.0", "^1.2", "~1.2", "1.x", "1.2", "a || b", ...) lets a chart
# upgrade roll out without a Git change. Exact versions like "1.2.3",
# "v1.2.3-rc.1" or "=1.2.3" are fine.
# Not applied when the chart comes from spec.chartRef (OCIRepository/HelmChart,
# pinned by that object) or from a GitRepository/Bucket source (the version
# field is ignored; the chart is pinned by the source revision).
package main

import rego.v1

import data.lib.kubernetes as k

_exact_chart_version := `^=?v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`

_chart_version_applies if {
	input.kind == "HelmRelease"
	startswith(object.get(input, "apiVersion", ""), "helm.toolkit.fluxcd.io/")
	object.get(input, ["spec", "chartRef"], null) == null
	not object.get(input, ["spec", "chart", "spec", "sourceRef", "kind"], "HelmRepository") in {"GitRepository", "Bucket"}
}

# METADATA
# scope: document
# custom:
#   kinds: [HelmRelease]
deny_unpinned_helm_chart contains result if {
	_chart_version_applies
	v := object.get(input, ["spec", "chart", "spec", "version"], null)
	not _exact_version(v)
	result := {
		"msg": concat("", [
			"chart ", _chart_name, " ", _version_problem(v),
			", so chart upgrades are deployed without a reviewed Git change. ",
			"Set spec.chart.spec.version to an exact version (e.g. \"1.4.2\").",
		]),
		"field": _chart_version_field,
	}
}

_exact_version(v) if {
	is_string(v)
	regex.match(_exact_chart_version, trim_space(v))
}

_chart_name := concat("", ["\"", k.to_str(object.get(input, ["spec", "chart", "spec", "chart"], "?")), "\""])

# spec.chart.spec.version, or its nearest existing parent.
_chart_version_field := "spec.chart.spec.version" if {
	_ = input.spec.chart.spec.version
} else := "spec.chart.spec" if {
	_ = input.spec.chart.spec
} else := "spec.chart" if {
	_ = input.spec.chart
} else := "spec" if {
	_ = input.spec
} else := ""

_version_problem(v) := "has no spec.chart.spec.version (Flux then uses \"*\", the latest version)" if {
	v == null
} else := concat("", ["uses version ", k.to_str(v), " which is not an exact version"])
