package lib.images

from_any(image, registries) {
  registry := registries[_]
  startswith(image, registry)
}
