"""The jobs side of an OcrService (``spec.jobs``): its children and the ``JobsReady`` condition.

Children (all named after the OcrService, applied with the same field manager and owner reference):
``<name>-redis`` PVC, Service and Deployment (``redis.deploy``), ``<name>-workers`` Deployment, and
``<name>-workers`` KEDA ScaledObject (KEDA installed) or HPA (not installed) when autoscaling.

Why a module of its own rather than more entries in ``builders.Children``: the main children are one
object per kind, addressed by kind; jobs add a second Deployment, Service and HPA, so they are
addressed by name here.  Disabling jobs deletes them; queued jobs and results in an operator-run
Redis go with it (an external Redis keeps them, and the queue waits for workers to come back).

KEDA is detected the way the chart detects the ServiceMonitor CRD: by asking the API server whether
the group/version serves the resource (cached for a minute, one request).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes.client.rest import ApiException

from ocr_operator.apply import KubeApi, apply_deployment
from ocr_operator.builders import DEPLOYMENT, HPA, SERVICE, ChildKind, Owner
from ocr_operator.builders.redis import (
    build_redis_deployment,
    build_redis_pvc,
    build_redis_service,
    redis_name,
)
from ocr_operator.builders.scaledobject import build_scaled_object, build_worker_hpa
from ocr_operator.builders.workers import build_worker_deployment, workers_name
from ocr_operator.spec import OcrServiceSpec
from ocr_operator.status import Condition, OcrServiceStatus

PVC = ChildKind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims")
SCALED_OBJECT = ChildKind("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects")
JOBS_READY = "JobsReady"
KEDA_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class JobsChild:
    kind: ChildKind
    name: str
    desired: dict[str, Any] | None  # None: must not exist


def build_jobs_children(owner: Owner, spec: OcrServiceSpec, config_hash: str, *, keda: bool) -> list[JobsChild]:
    """PURE: every jobs child in apply order (volume, Redis, workers, then what scales them)."""
    return [
        JobsChild(PVC, redis_name(owner), build_redis_pvc(owner, spec)),
        JobsChild(SERVICE, redis_name(owner), build_redis_service(owner, spec)),
        JobsChild(DEPLOYMENT, redis_name(owner), build_redis_deployment(owner, spec)),
        JobsChild(DEPLOYMENT, workers_name(owner), build_worker_deployment(owner, spec, config_hash)),
        JobsChild(SCALED_OBJECT, workers_name(owner), build_scaled_object(owner, spec, keda=keda)),
        JobsChild(HPA, workers_name(owner), build_worker_hpa(owner, spec, keda=keda)),
    ]


def jobs_deployment_names(owner: Owner) -> tuple[str, str]:
    return redis_name(owner), workers_name(owner)


class KedaDetector:
    """Whether the cluster serves ``keda.sh/v1alpha1`` ScaledObjects (cached)."""

    def __init__(self, ttl: float = KEDA_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, bool] | None = None

    def __call__(self, api: KubeApi) -> bool:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.ttl:
                return self._cached[1]
        try:
            resources = api._request("get", f"/apis/{SCALED_OBJECT.group}/{SCALED_OBJECT.version}")
            present = any(r.get("name") == SCALED_OBJECT.plural for r in resources.get("resources") or [])
        except ApiException as err:
            if err.status not in (404, 403):
                raise
            present = False
        with self._lock:
            self._cached = (time.monotonic(), present)
        return present


def apply_jobs_children(
    api: KubeApi, owner: Owner, spec: OcrServiceSpec, config_hash: str, *, keda: bool, cleanup: bool
) -> dict[str, dict[str, Any] | None]:
    """Apply the wanted jobs children, delete the unwanted ones; the live Deployments by name.

    ``cleanup``: also delete children that are not wanted.  Only needed when jobs are (or were, as the
    ``JobsReady`` condition says) enabled: an OcrService that never had jobs costs no extra request."""
    live: dict[str, dict[str, Any] | None] = {}
    auto = spec.jobs.autoscaling
    for child in build_jobs_children(owner, spec, config_hash, keda=keda):
        if child.desired is None:
            if cleanup and not (child.kind is SCALED_OBJECT and not keda):
                api.delete(child.kind, owner.namespace, child.name)
            if child.kind is DEPLOYMENT:
                live[child.name] = None
        elif child.kind is DEPLOYMENT and child.name == workers_name(owner) and auto.enabled:
            live[child.name] = apply_deployment(api, child.desired, None, (auto.min_replicas, auto.max_replicas))
        elif child.kind is DEPLOYMENT:
            live[child.name] = api.apply(child.kind, child.desired)
        else:
            api.apply(child.kind, child.desired)
    return live


def _available(deployment: Mapping[str, Any] | None) -> tuple[int, int]:
    """(available, desired) replicas of a live Deployment."""
    if not deployment:
        return 0, 0
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    return int(status.get("availableReplicas") or 0), int(spec.get("replicas", 1))


def slim_deployment(deployment: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What ``jobs_condition`` reads of a Deployment (kept per OcrService: keep the memory flat)."""
    if deployment is None:
        return None
    available, desired = _available(deployment)
    return {"spec": {"replicas": desired}, "status": {"availableReplicas": available}}


def jobs_condition(
    spec: OcrServiceSpec, owner: Owner, deployments: Mapping[str, Mapping[str, Any] | None], generation: int | None
) -> Condition:
    """PURE: ``JobsReady`` from the live Redis and worker Deployments."""
    redis_ok, redis_note = True, "external Redis"
    if spec.jobs.redis.deploy:
        available, _ = _available(deployments.get(redis_name(owner)))
        redis_ok, redis_note = available >= 1, "Redis ready" if available >= 1 else "Redis not ready"
    available, desired = _available(deployments.get(workers_name(owner)))
    workers_note = f"{available}/{desired} workers available"
    if not redis_ok:
        status, reason = False, "RedisUnavailable"
    elif desired == 0:
        status, reason = True, "ScaledToZero"
    elif available >= 1:
        status, reason = True, "WorkersAvailable"
    else:
        status, reason = False, "NoWorkersAvailable"
    return Condition(
        type=JOBS_READY,
        status="True" if status else "False",
        reason=reason,
        message=f"{workers_note}; {redis_note}",
        observed_generation=generation,
    )


def previous_jobs_condition(previous: Mapping[str, Any] | None) -> dict[str, Any] | None:
    for cond in (previous or {}).get("conditions") or []:
        if cond.get("type") == JOBS_READY:
            return dict(cond)
    return None


def with_jobs_condition(
    status: OcrServiceStatus,
    previous: Mapping[str, Any] | None,
    condition: Condition | None,
    now: str,
    *,
    enabled: bool,
) -> OcrServiceStatus:
    """PURE: ``status`` with ``JobsReady`` set (``condition``), carried over from ``previous`` (no new
    observation) or removed (jobs disabled); ``lastTransitionTime`` kept while the status holds."""
    old = previous_jobs_condition(previous)
    conditions = [c for c in status.conditions if c.type != JOBS_READY]
    if enabled:
        if condition is None and old is not None:
            condition = Condition.model_validate(old)
        if condition is not None:
            same = old is not None and old.get("status") == condition.status and old.get("lastTransitionTime")
            when = old["lastTransitionTime"] if same and old else now
            conditions.append(condition.model_copy(update={"last_transition_time": when}))
    return status.model_copy(update={"conditions": conditions})
