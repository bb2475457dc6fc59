"""PURE: OcrService spec → what scales the workers: a KEDA ``ScaledObject`` on the Redis queue length
when the cluster has KEDA, else an autoscaling/v2 HPA on CPU (``None`` for the one not used).

Why the queue length: a worker's CPU is flat at 100 % whether 1 or 10,000 pages wait, so CPU cannot
say how many workers a backlog needs; the list length can (``targetQueueLength`` pages per worker),
and KEDA can scale to zero when nothing is queued.  The HPA fallback (``minReplicas`` at least 1)
still adds workers under sustained load.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ocr_operator.builders.jobsconfig import PASSWORD_ENV, redis_url
from ocr_operator.builders.meta import Owner, object_meta
from ocr_operator.builders.workers import WORKER_COMPONENT, workers_name
from ocr_operator.spec import OcrServiceSpec
from ocr_server.config import JobsConfig

KEDA_API_VERSION = "keda.sh/v1alpha1"
QUEUE = JobsConfig.model_fields["queue"].default


def _meta(owner: Owner, spec: OcrServiceSpec) -> dict[str, Any]:
    meta = object_meta(owner, spec, workers_name(owner))
    meta["labels"] = {**meta["labels"], "app.kubernetes.io/component": WORKER_COMPONENT}
    return meta


def _redis_address(owner: Owner, spec: OcrServiceSpec) -> tuple[str, str, bool]:
    """(host:port, database index, TLS) of the jobs Redis, as KEDA's redis scaler wants them."""
    parts = urlsplit(redis_url(owner, spec))
    database = (parts.path or "/0").lstrip("/") or "0"
    return f"{parts.hostname}:{parts.port or 6379}", database, parts.scheme == "rediss"


def build_scaled_object(owner: Owner, spec: OcrServiceSpec, *, keda: bool) -> dict[str, Any] | None:
    auto = spec.jobs.autoscaling
    if not (keda and spec.jobs.enabled and auto.enabled):
        return None
    address, database, tls = _redis_address(owner, spec)
    metadata: dict[str, str] = {
        "address": address,
        "databaseIndex": database,
        "listName": QUEUE,
        "listLength": str(auto.target_queue_length),
        "activationListLength": "0",
    }
    if tls:
        metadata["enableTLS"] = "true"
    if spec.jobs.redis.password_secret_ref is not None:
        metadata["passwordFromEnv"] = PASSWORD_ENV  # read from the worker container's env (the Secret)
    return {
        "apiVersion": KEDA_API_VERSION,
        "kind": "ScaledObject",
        "metadata": _meta(owner, spec),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": workers_name(owner)},
            "minReplicaCount": auto.min_replicas,
            "maxReplicaCount": auto.max_replicas,
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "triggers": [{"type": "redis", "metadata": metadata}],
        },
    }


def build_worker_hpa(owner: Owner, spec: OcrServiceSpec, *, keda: bool) -> dict[str, Any] | None:
    auto = spec.jobs.autoscaling
    if keda or not (spec.jobs.enabled and auto.enabled):
        return None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(owner, spec),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": workers_name(owner)},
            "minReplicas": max(1, auto.min_replicas),
            "maxReplicas": auto.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": auto.target_cpu_utilization_percentage},
                    },
                }
            ],
        },
    }
