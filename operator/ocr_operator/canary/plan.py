"""PURE: which canary children must exist now, from the spec and what the status says so far.

The status is the canary's memory (it survives operator restarts): whether this very canary was
rolled back (then it stays away until its model, image or fault annotation changes), whether its pods
are all ready (only then does the Ingress / HTTPRoute give it its weight: a canary whose pods fail the
golden-set gate never gets traffic), and whether a promotion is under way (the canary keeps serving
until the stable Deployment has rolled onto its model, so no capacity is lost).

Split and its granularity:
- through the Service (always): by the ratio of ready pods, ``canary / (stable + canary)``.  Without
  ``canary.replicas`` the canary gets ``round(stable * weight / (100 - weight))`` pods, at least 1 and
  at most the stable's count, so the achievable shares are steps of ``1 / (stable + canary)`` up to 50 %;
- through the Ingress (ingress-nginx canary annotations) and the HTTPRoute (weighted backends): exactly
  ``weight`` percent, per request.  Those need a Service per track (``<name>-stable``,
  ``<name>-canary``), created only then.  There the canary is sized for its share
  (``ceil(stable * weight / 100)``, at least 1).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ocr_operator.builders.meta import model_ref
from ocr_operator.spec import GROUP, CanarySpec, ModelSpec, OcrServiceSpec

# Test-only: copied into OCR_FAULT_INJECTION of the canary pods (the server's fault switch), so a test
# can make a canary fail (``errors=0.5``: half the OCR answers are 500; ``golden=fail``: never ready).
FAULT_ANNOTATION = f"{GROUP}/canary-fault-injection"
FAULT_ENV = "OCR_FAULT_INJECTION"
ROLLED_BACK = "RolledBack"


def canary_model_ref(model: ModelSpec) -> str:
    return f"{model.name}-{model.version}"


def fingerprint(spec: OcrServiceSpec, fault: str | None) -> str:
    """What identifies one canary attempt: its model, image and fault switch (not its weight)."""
    canary = spec.canary
    assert canary is not None
    image = (canary.image or spec.image).model_dump(by_alias=True)
    body = {"model": canary.model.model_dump(by_alias=True), "image": image, "fault": fault}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def stable_replicas(spec: OcrServiceSpec) -> int:
    """The stable pod count the canary is sized against (the HPA's minimum when autoscaling)."""
    return spec.autoscaling.min_replicas if spec.autoscaling.enabled else spec.replicas


def exact_split(spec: OcrServiceSpec, gateway_api: bool) -> bool:
    """Whether some route splits by weight exactly (Ingress, HTTPRoute): per-track Services then."""
    return spec.ingress.enabled or gateway_api


def canary_replicas(spec: OcrServiceSpec, gateway_api: bool) -> int:
    """``canary.replicas``, else sized from the weight (see the module docstring)."""
    canary = spec.canary
    assert canary is not None
    if canary.replicas is not None:
        return canary.replicas
    weight, stable = canary.weight, stable_replicas(spec)
    if weight == 0:
        return 0
    if exact_split(spec, gateway_api):
        return max(1, math.ceil(stable * weight / 100))
    if weight >= 100:
        return stable
    return min(stable, max(1, round(stable * weight / (100 - weight))))


@dataclass(frozen=True)
class CanaryPlan:
    """The canary children to have.  ``promoting``: spec.canary is gone because its model was
    promoted; the canary Deployment stays as it is (neither applied nor deleted) until the stable
    Deployment serves that model, and nothing splits traffic any more."""

    canary: CanarySpec | None
    fingerprint: str | None
    fault: str | None
    replicas: int
    routed_weight: int
    track_services: bool
    ingress: bool
    httproute: bool
    promoting: bool = False

    @property
    def runs(self) -> bool:
        """A canary Deployment is wanted (applied), as opposed to kept (promoting) or absent."""
        return self.canary is not None


def fault_of(metadata: Mapping[str, Any] | None) -> str | None:
    return ((metadata or {}).get("annotations") or {}).get(FAULT_ANNOTATION) or None


def plan_canary(
    spec: OcrServiceSpec,
    fault: str | None,
    previous: Mapping[str, Any] | None,
    *,
    gateway_api: bool,
) -> CanaryPlan | None:
    """The plan for ``spec`` given the previous ``status`` (``None``: no canary children at all)."""
    previous = previous or {}
    before = previous.get("canary") or {}
    canary = spec.canary
    if canary is None:
        promoted = before and before.get("state") != ROLLED_BACK and before.get("model") == model_ref(spec)
        if promoted and previous.get("model") != model_ref(spec):
            return CanaryPlan(None, before.get("fingerprint"), None, 0, 0, False, False, False, promoting=True)
        return None
    fp = fingerprint(spec, fault)
    same = before.get("fingerprint") == fp
    if same and before.get("state") == ROLLED_BACK:
        return None
    replicas = canary_replicas(spec, gateway_api)
    ready = same and replicas > 0 and int(before.get("readyReplicas") or 0) >= replicas
    exact = exact_split(spec, gateway_api)
    return CanaryPlan(
        canary=canary,
        fingerprint=fp,
        fault=fault,
        replicas=replicas,
        routed_weight=canary.weight if ready and exact else 0,  # only exact splits route by weight
        track_services=exact,
        ingress=spec.ingress.enabled,
        httproute=gateway_api,
    )
