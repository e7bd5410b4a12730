# conftest's canonical example, in the v0 syntax many existing policies use.
package main

deny[msg] {
  input.kind == "Deployment"
  not input.spec.template.spec.securityContext.runAsNonRoot
  msg := "Containers must not run as root"
}

deny_latest[{"msg": msg, "field": sprintf("spec.template.spec.containers[%d].image", [i])}] {
  input.kind == "Deployment"
  container := input.spec.template.spec.containers[i]
  endswith(container.image, ":latest")
  msg := sprintf("container %s uses the :latest tag", [container.name])
}

warn[msg] {
  input.kind == "Service"
  input.spec.type == "NodePort"
  msg := "NodePort services are discouraged"
}

exception[rules] {
  input.metadata.name == "legacy"
  rules := ["latest"]
}
