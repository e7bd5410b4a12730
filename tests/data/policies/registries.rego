package main

import data.lib.images

deny_registry[msg] {
  input.kind == "Deployment"
  allowed := data.registries
  container := input.spec.template.spec.containers[_]
  not images.from_any(container.image, allowed)
  msg := sprintf("image %s is not from an allowed registry", [container.image])
}
