"""The canary's children by name (like the jobs children): what to apply, keep or delete, and the apply.

Order matters for requests in flight: when a canary starts, its Services, Deployment and routes are
applied *before* the main Ingress moves onto ``<name>-stable`` (the Reconciler applies these first);
when it goes, the main Ingress moves back to the OcrService's Service first and these are deleted
after.  Routes go before the Services they point at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ocr_operator.apply import KubeApi, apply_deployment
from ocr_operator.builders import DEPLOYMENT, HTTPROUTE, INGRESS, SERVICE, ChildKind, Owner
from ocr_operator.builders.canary import (
    build_canary_deployment,
    build_canary_ingress,
    build_httproute,
    build_track_service,
    canary_name,
    stable_name,
)
from ocr_operator.builders.meta import CANARY_TRACK, STABLE_TRACK, workload_name
from ocr_operator.canary.plan import CanaryPlan
from ocr_operator.errors import ApplyError
from ocr_operator.failures import ChildFailure
from ocr_operator.repair import apply_child
from ocr_operator.revision import stamp
from ocr_operator.spec import OcrServiceSpec


@dataclass(frozen=True)
class CanaryChild:
    kind: ChildKind
    name: str
    desired: dict[str, Any] | None  # None: must not exist
    keep: bool = False  # promoting: leave the live object as it is


def build_canary_children(
    owner: Owner, spec: OcrServiceSpec, plan: CanaryPlan | None, config_hash: str, *, gateway_api: bool
) -> list[CanaryChild]:
    """PURE: every canary child in apply order, each stamped with its applied-hash (``revision``).
    The HTTPRoute is listed only where the Gateway API is served (elsewhere it cannot exist)."""
    runs = plan is not None and plan.runs
    services = runs and plan is not None and plan.track_services

    def maybe(wanted: bool, build: Any) -> dict[str, Any] | None:
        return stamp(build()) if wanted else None

    children = [
        CanaryChild(
            SERVICE, stable_name(owner), maybe(services, lambda: build_track_service(owner, spec, STABLE_TRACK))
        ),
        CanaryChild(
            SERVICE, canary_name(owner), maybe(services, lambda: build_track_service(owner, spec, CANARY_TRACK))
        ),
        CanaryChild(
            DEPLOYMENT,
            canary_name(owner),
            maybe(runs, lambda: build_canary_deployment(owner, spec, plan, config_hash)),  # type: ignore[arg-type]
            keep=plan is not None and plan.promoting,
        ),
        CanaryChild(
            INGRESS,
            canary_name(owner),
            maybe(runs and plan is not None and plan.ingress, lambda: build_canary_ingress(owner, spec, plan)),  # type: ignore[arg-type]
        ),
    ]
    if gateway_api:
        wanted = runs and plan is not None and plan.httproute
        children.append(
            CanaryChild(HTTPROUTE, workload_name(owner), maybe(wanted, lambda: build_httproute(owner, spec, plan)))  # type: ignore[arg-type]
        )
    return children


def is_canary_child(owner: Owner, kind: ChildKind, name: str | None) -> bool:
    """Whether ``kind``/``name`` is one of ``owner``'s canary children (watched kinds only)."""
    if kind is SERVICE:
        return name in (stable_name(owner), canary_name(owner))
    if kind in (DEPLOYMENT, INGRESS):
        return name == canary_name(owner)
    return False


@dataclass
class CanaryApplyResult:
    deployment: dict[str, Any] | None
    failures: list[ChildFailure] = field(default_factory=list)
    repaired: list[CanaryChild] = field(default_factory=list)


def apply_canary_child(
    api: KubeApi, child: CanaryChild, live: Mapping[str, Any] | None = None, repaired: list[ChildKind] | None = None
) -> dict[str, Any]:
    """Apply one wanted child through the same path as the main children (``repair``)."""
    assert child.desired is not None
    if child.kind is DEPLOYMENT:
        return apply_deployment(api, child.desired, live, None, repaired)
    return apply_child(api, child.kind, child.desired, repaired=repaired)


def apply_canary_children(
    api: KubeApi,
    owner: Owner,
    children: list[CanaryChild],
    live_deployment: Mapping[str, Any] | None,
) -> CanaryApplyResult:
    """Apply the wanted children in order and delete the unwanted ones in reverse order (routes before
    the Services they use).  A refused child is recorded and the others still applied."""
    result = CanaryApplyResult(dict(live_deployment) if live_deployment is not None else None)
    wanted = [c for c in children if c.desired is not None or c.keep]
    unwanted = [c for c in reversed(children) if c.desired is None and not c.keep]
    for child in wanted:
        kinds: list[ChildKind] = []
        try:
            if child.keep:
                if child.kind is DEPLOYMENT:
                    result.deployment = api.get(DEPLOYMENT, owner.namespace, child.name)
                continue
            applied = apply_canary_child(api, child, live_deployment if child.kind is DEPLOYMENT else None, kinds)
            if child.kind is DEPLOYMENT:
                result.deployment = applied
        except ApplyError as err:
            if err.namespace_terminating:
                raise
            result.failures.append(ChildFailure(child.kind.kind, child.name, str(err), err.permanent))
        if kinds:
            result.repaired.append(child)
    for child in unwanted:
        try:
            api.delete(child.kind, owner.namespace, child.name)
        except ApplyError as err:
            if err.namespace_terminating:
                raise
            result.failures.append(ChildFailure(child.kind.kind, child.name, str(err), err.permanent))
        if child.kind is DEPLOYMENT:
            result.deployment = None
    return result
