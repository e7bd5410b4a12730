"""Manifests for the service tests: a Deployment that passes the test policies, one that fails."""

from __future__ import annotations


def deployment(name: str, image: str = "nginx:1.25", replicas: int = 1, non_root: bool = True, namespace: str = "shop") -> str:
    security = "      securityContext:\n        runAsNonRoot: true\n" if non_root else ""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
{security}      containers:
        - name: {name}
          image: {image}
"""


def bad_deployment(name: str) -> str:
    """Fails the test policies twice: runs as root, uses :latest."""
    return deployment(name, image="nginx:latest", non_root=False)
