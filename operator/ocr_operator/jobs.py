"""The jobs side of an OcrService (``spec.jobs``): its children and the ``JobsReady`` condition.

Children (all named after the OcrService, applied with the same field manager and owner reference):
``<name>-redis`` PVC, Service and Deployment (``redis.deploy``), ``<name>-workers`` Deployment, and
``<name>-workers`` KEDA ScaledObject (KEDA installed) or HPA (not installed) when autoscaling.

Why a module of its own rather than more entries in ``builders.Children``: the main children are one
object per kind, addressed by kind; jobs add a second Deployment, Service and HPA, so they are
addressed by name here.  They go through the same apply path as the main children (stamped with
``revision``'s applied-hash, ``repair.apply_child``, one failed child recorded while the others are
still applied).  Each is restored on its own events (``Reconciler.on_jobs_child_event``): the
Deployments, the Redis Service and the worker HPA through the watches of the main children's kinds,
the PVC and the ScaledObject through watches of their own (the ScaledObject's only while KEDA's CRD
exists).  Disabling jobs deletes them; queued jobs and results in an operator-run
Redis go with it (an external Redis keeps them, and the queue waits for workers to come back).

KEDA is detected the way the chart detects the ServiceMonitor CRD: by asking the API server whether
the group/version serves the resource (cached for a minute, one request).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ocr_operator.apply import KubeApi, apply_deployment
from ocr_operator.builders import DEPLOYMENT, HPA, PVC, SCALED_OBJECT, SERVICE, ChildKind, Owner
from ocr_operator.builders.redis import (
    build_redis_deployment,
    build_redis_pvc,
    build_redis_service,
    redis_name,
)
from ocr_operator.builders.scaledobject import build_scaled_object, build_worker_hpa
from ocr_operator.builders.workers import build_worker_deployment, workers_name
from ocr_operator.discovery import ServedDetector
from ocr_operator.errors import ApplyError
from ocr_operator.failures import ChildFailure
from ocr_operator.repair import apply_child
from ocr_operator.revision import stamp
from ocr_operator.spec import OcrServiceSpec
from ocr_operator.status import Condition, OcrServiceStatus

__all__ = ["PVC", "SCALED_OBJECT"]  # re-exported: they used to live here
JOBS_READY = "JobsReady"
KEDA_CACHE_SECONDS = 60.0


@dataclass(frozen=True)
class JobsChild:
    kind: ChildKind
    name: str
    desired: dict[str, Any] | None  # None: must not exist

    @property
    def key(self) -> str:
        """Its key among the reconciler's per-child failures (the main children use the bare kind)."""
        return failure_key(self.kind, self.name)


def failure_key(kind: ChildKind, name: str) -> str:
    return f"{kind.kind}/{name}"


def _stamped(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    return stamp(manifest) if manifest is not None else None


def build_jobs_children(owner: Owner, spec: OcrServiceSpec, config_hash: str, *, keda: bool) -> list[JobsChild]:
    """PURE: every jobs child in apply order (volume, Redis, workers, then what scales them), each
    carrying its applied-hash annotation (``ocr_operator.revision``) like the main children."""
    return [
        JobsChild(PVC, redis_name(owner), _stamped(build_redis_pvc(owner, spec))),
        JobsChild(SERVICE, redis_name(owner), _stamped(build_redis_service(owner, spec))),
        JobsChild(DEPLOYMENT, redis_name(owner), _stamped(build_redis_deployment(owner, spec))),
        JobsChild(DEPLOYMENT, workers_name(owner), _stamped(build_worker_deployment(owner, spec, config_hash))),
        JobsChild(SCALED_OBJECT, workers_name(owner), _stamped(build_scaled_object(owner, spec, keda=keda))),
        JobsChild(HPA, workers_name(owner), _stamped(build_worker_hpa(owner, spec, keda=keda))),
    ]


def jobs_deployment_names(owner: Owner) -> tuple[str, str]:
    return redis_name(owner), workers_name(owner)


# The kinds of the jobs children, all watched: their events are routed to
# ``Reconciler.on_jobs_child_event`` (restore when deleted or edited by hand).
WATCHED_JOBS_KINDS = (PVC, SERVICE, DEPLOYMENT, SCALED_OBJECT, HPA)


def is_jobs_child(owner: Owner, kind: ChildKind, name: str | None) -> bool:
    """Whether ``kind``/``name`` is one of ``owner``'s jobs children."""
    if kind in (PVC, SERVICE):
        return name == redis_name(owner)
    if kind is SCALED_OBJECT:
        return name == workers_name(owner)
    if kind is DEPLOYMENT:
        return name in jobs_deployment_names(owner)
    if kind is HPA:
        return name == workers_name(owner)
    return False


class KedaDetector(ServedDetector):
    """Whether the cluster serves ``keda.sh/v1alpha1`` ScaledObjects (cached)."""

    def __init__(self, ttl: float = KEDA_CACHE_SECONDS) -> None:
        super().__init__(SCALED_OBJECT, ttl)


@dataclass
class JobsApplyResult:
    """What ``apply_jobs_children`` left: the live Deployments by name, what failed (one child's
    failure does not stop the others), and which children needed the repair ladder."""

    live: dict[str, dict[str, Any] | None]
    failures: list[ChildFailure]
    repaired: list[JobsChild]


def apply_jobs_child(
    api: KubeApi,
    owner: Owner,
    spec: OcrServiceSpec,
    child: JobsChild,
    live: Mapping[str, Any] | None = None,
    repaired: list[ChildKind] | None = None,
) -> dict[str, Any]:
    """Apply one wanted jobs child through the same path as the main children (``repair``); the
    workers Deployment hands its replicas to the HPA/ScaledObject when autoscaled."""
    assert child.desired is not None
    auto = spec.jobs.autoscaling
    if child.kind is DEPLOYMENT:
        scaled = (auto.min_replicas, auto.max_replicas) if child.name == workers_name(owner) and auto.enabled else None
        return apply_deployment(api, child.desired, live, scaled, repaired)
    return apply_child(api, child.kind, child.desired, repaired=repaired)


def apply_jobs_children(
    api: KubeApi, owner: Owner, spec: OcrServiceSpec, config_hash: str, *, keda: bool, cleanup: bool
) -> JobsApplyResult:
    """Apply the wanted jobs children one by one, delete the unwanted ones.

    ``cleanup``: also delete children that are not wanted.  Only needed when jobs are (or were, as the
    ``JobsReady`` condition says) enabled: an OcrService that never had jobs costs no extra request.
    A refused child is recorded and the next one still applied; only a terminating namespace raises."""
    live: dict[str, dict[str, Any] | None] = {}
    failures: list[ChildFailure] = []
    repaired: list[JobsChild] = []
    for child in build_jobs_children(owner, spec, config_hash, keda=keda):
        kinds: list[ChildKind] = []
        try:
            if child.desired is None:
                if cleanup and not (child.kind is SCALED_OBJECT and not keda):
                    api.delete(child.kind, owner.namespace, child.name)
                if child.kind is DEPLOYMENT:
                    live[child.name] = None
            else:
                applied = apply_jobs_child(api, owner, spec, child, None, kinds)
                if child.kind is DEPLOYMENT:
                    live[child.name] = applied
        except ApplyError as err:
            if err.namespace_terminating:
                raise
            failures.append(ChildFailure(child.kind.kind, child.name, str(err), err.permanent))
        if kinds:
            repaired.append(child)
    return JobsApplyResult(live, failures, repaired)


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
