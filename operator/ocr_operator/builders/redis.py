"""PURE: OcrService spec → the operator-run Redis (``spec.jobs.redis.deploy: true``): Deployment,
Service and, with persistence, a PersistentVolumeClaim; ``None`` for each when not wanted.

Choices:
- one replica, ``Recreate`` (two Redis pods on one volume, or two masters behind one Service, would
  split the queue);
- append-only file (``appendfsync everysec``) on ``/data``: an emptyDir survives a Redis crash (the
  container restarts in the same pod), a PVC also the pod's deletion; at most ~1 s of submissions can
  be lost.  No RDB snapshots: the AOF is the one source;
- ``maxmemory-policy noeviction``: when Redis is full a submission fails with 503 rather than
  Redis silently evicting queued pages or results;
- Pod Security "restricted": the image's ``redis`` user (999), read-only root filesystem,
  no capabilities, RuntimeDefault seccomp;
- no password: the Service is reachable only inside the cluster; use ``jobs.redis.url`` with
  ``passwordSecretRef`` for a managed, authenticated Redis.
"""

from __future__ import annotations

from typing import Any

from ocr_operator.builders.meta import LABEL_COMPONENT, LABEL_INSTANCE, Owner, object_meta
from ocr_operator.spec import OcrServiceSpec

REDIS_COMPONENT = "redis"
REDIS_PORT = 6379
REDIS_UID = 999  # the official image's redis user
DATA_DIR = "/data"


def redis_name(owner: Owner) -> str:
    """Deployment, Service and PVC of the operator-run Redis (a Service name: DNS-1035, ≤ 63 chars)."""
    return f"{owner.name[:57]}-redis"


def redis_selector(owner: Owner) -> dict[str, str]:
    return {LABEL_INSTANCE: owner.name, LABEL_COMPONENT: REDIS_COMPONENT}


def redis_host(owner: Owner) -> str:
    return f"{redis_name(owner)}.{owner.namespace}.svc"


def _wanted(spec: OcrServiceSpec) -> bool:
    return spec.jobs.enabled and spec.jobs.redis.deploy


def _meta(owner: Owner, spec: OcrServiceSpec) -> dict[str, Any]:
    meta = object_meta(owner, spec, redis_name(owner))
    meta["labels"] = {**meta["labels"], LABEL_COMPONENT: REDIS_COMPONENT}
    return meta


def build_redis_pvc(owner: Owner, spec: OcrServiceSpec) -> dict[str, Any] | None:
    persistence = spec.jobs.redis.persistence
    if not (_wanted(spec) and persistence.enabled):
        return None
    pvc_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": persistence.size}},
    }
    if persistence.storage_class_name:
        pvc_spec["storageClassName"] = persistence.storage_class_name
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(owner, spec), "spec": pvc_spec}


def build_redis_service(owner: Owner, spec: OcrServiceSpec) -> dict[str, Any] | None:
    if not _wanted(spec):
        return None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(owner, spec),
        "spec": {
            "type": "ClusterIP",
            "selector": redis_selector(owner),
            "ports": [{"name": "redis", "port": REDIS_PORT, "targetPort": "redis", "protocol": "TCP"}],
        },
    }


def _probe(command: list[str], period: int, failures: int) -> dict[str, Any]:
    return {"exec": {"command": command}, "periodSeconds": period, "timeoutSeconds": 3, "failureThreshold": failures}


def build_redis_deployment(owner: Owner, spec: OcrServiceSpec) -> dict[str, Any] | None:
    if not _wanted(spec):
        return None
    redis = spec.jobs.redis
    meta = _meta(owner, spec)
    data_volume: dict[str, Any] = (
        {"name": "data", "persistentVolumeClaim": {"claimName": redis_name(owner)}}
        if redis.persistence.enabled
        else {"name": "data", "emptyDir": {}}
    )
    container = {
        "name": "redis",
        "image": redis.image,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "redis-server",
            "--port",
            str(REDIS_PORT),
            "--dir",
            DATA_DIR,
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
            "--protected-mode",
            "no",
        ],
        "ports": [{"name": "redis", "containerPort": REDIS_PORT, "protocol": "TCP"}],
        "resources": redis.resources.model_dump(by_alias=True),
        "readinessProbe": _probe(["redis-cli", "ping"], 5, 2),
        "livenessProbe": _probe(["redis-cli", "ping"], 10, 6),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": REDIS_UID,
            "runAsGroup": REDIS_UID,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "data", "mountPath": DATA_DIR}],
    }
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": REDIS_UID,
            "runAsGroup": REDIS_UID,
            "fsGroup": REDIS_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [data_volume],
    }
    if spec.node_selector:
        pod_spec["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        pod_spec["tolerations"] = [t.model_dump(by_alias=True, exclude_none=True) for t in spec.tolerations]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": redis_selector(owner)},
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 3,
            "template": {"metadata": {"labels": dict(meta["labels"])}, "spec": pod_spec},
        },
    }
