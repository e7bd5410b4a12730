"""Deterministic corpus of Kubernetes manifests for benchmarks: a mix of kinds,
CRD-backed custom resources, List documents and one 1 MB ConfigMap."""

from __future__ import annotations

import os
import random

import yaml

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1},
                                    "color": {"type": "string", "enum": ["red", "green", "blue"]},
                                    "port": {"x-kubernetes-int-or-string": True},
                                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def deployment(rng: random.Random, i: int, kind: str = "Deployment") -> dict:
    name = f"app-{i}"
    pod = {
        "metadata": {"labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "securityContext": {"runAsNonRoot": True},
            "containers": [
                {
                    "name": "main",
                    "image": f"registry.example.com/team/{name}:1.{rng.randint(0, 40)}.{rng.randint(0, 9)}",
                    "ports": [{"containerPort": 8080}],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    "env": [{"name": f"VAR_{k}", "value": str(rng.random())} for k in range(rng.randint(0, 6))],
                }
            ],
        },
    }
    if rng.random() < 0.1:  # some break policy
        pod["spec"]["containers"][0]["image"] = "nginx:latest"
        pod["spec"]["containers"][0]["securityContext"]["privileged"] = True
    spec: dict = {"selector": {"matchLabels": {"app.kubernetes.io/name": name}}, "template": pod}
    if kind != "DaemonSet":
        spec["replicas"] = rng.randint(1, 5)
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": f"team-{i % 17}", "labels": {"app.kubernetes.io/name": name}},
        "spec": spec,
    }


def service(i: int) -> dict:
    name = f"app-{i}"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": f"team-{i % 17}", "labels": {"app.kubernetes.io/name": name}},
        "spec": {"selector": {"app.kubernetes.io/name": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def configmap(i: int, size: int = 3) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cfg-{i}", "namespace": f"team-{i % 17}", "labels": {"app.kubernetes.io/name": f"app-{i}"}},
        "data": {f"key{k}": f"value-{i}-{k}" for k in range(size)},
    }


def widget(i: int) -> dict:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": f"w-{i}", "namespace": f"team-{i % 17}", "labels": {"app.kubernetes.io/name": f"w-{i}"}},
        "spec": {"size": 1 + i % 9, "color": ["red", "green", "blue"][i % 3], "port": 8080 if i % 2 else "http"},
    }


def cronjob(i: int) -> dict:
    job = deployment(random.Random(i), i)["spec"]["template"]
    job["spec"]["restartPolicy"] = "OnFailure"
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": f"job-{i}", "namespace": f"team-{i % 17}", "labels": {"app.kubernetes.io/name": f"job-{i}"}},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": job}}},
    }


def build(directory: str, resources: int = 10_000, seed: int = 7) -> int:
    """Write the corpus under `directory`; returns the number of resources written."""
    rng = random.Random(seed)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "crds.yaml"), "w") as handle:
        yaml.safe_dump(CRD, handle)
    with open(os.path.join(directory, "big-configmap.yaml"), "w") as handle:
        big = configmap(0)
        big["data"] = {"blob": "x" * (1024 * 1024)}
        yaml.safe_dump(big, handle)
    written = 1
    i = 0
    file_index = 0
    while written < resources:
        docs = []
        for _ in range(20):
            i += 1
            roll = i % 10
            if roll < 3:
                docs.append(deployment(rng, i, ["Deployment", "StatefulSet", "DaemonSet"][i % 3]))
            elif roll < 5:
                docs.append(service(i))
            elif roll < 7:
                docs.append(configmap(i))
            elif roll < 9:
                docs.append(widget(i))
            else:
                docs.append(cronjob(i))
        file_index += 1
        path = os.path.join(directory, f"team-{file_index % 23}", f"release-{file_index}.yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            if file_index % 10 == 0:  # some files are List documents
                yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": docs}, handle)
            else:
                yaml.safe_dump_all(docs, handle)
        written += len(docs)
    return written


def documents(directory: str) -> list[dict]:
    """Every resource in the corpus (List items expanded), for peers that take parsed input."""
    out = []
    for root, _, files in os.walk(directory):
        for name in sorted(files):
            with open(os.path.join(root, name)) as handle:
                for doc in yaml.load_all(handle, Loader=yaml.CSafeLoader):
                    if doc and doc.get("kind") == "List":
                        out.extend(doc["items"])
                    elif doc:
                        out.append(doc)
    return out
