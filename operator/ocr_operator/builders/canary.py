"""PURE: the canary's children, from the spec and a ``CanaryPlan`` (``ocr_operator.canary.plan``).

- ``<name>-canary`` Deployment: the stable pod template (same ConfigMap, same restricted pod, same
  probes: the golden-set gate keeps a misreading pod out of every Service) with the canary's model
  given as ``OCR__MODEL__NAME``/``OCR__MODEL__VERSION`` (the server's environment overrides of the
  config file), the canary's image, ``ocr-crnn.io/track: canary`` and a fixed replica count;
- ``<name>-stable`` / ``<name>-canary`` Services (ClusterIP, selecting one track each): the weighted
  backends of the ingress-nginx canary Ingress and of the HTTPRoute;
- ``<name>-canary`` Ingress: ingress-nginx's canary annotations (``canary``, ``canary-weight``) on a copy
  of the main Ingress pointing at ``<name>-canary``; the main Ingress points at ``<name>-stable`` then;
- ``<name>`` HTTPRoute (Gateway API, only where its CRDs are served): one rule with both track
  Services as weighted backends; parents: ``canary.gatewayRefs``, else the OcrService's Service (GAMMA).
"""

from __future__ import annotations

import copy
from typing import Any

from ocr_operator.builders.deployment import build_deployment
from ocr_operator.builders.ingress import build_ingress
from ocr_operator.builders.meta import (
    CANARY_TRACK,
    MODEL_ANNOTATION,
    MODEL_VERSION_ANNOTATION,
    TRACK_LABEL,
    Owner,
    object_meta,
    selector_labels,
    workload_name,
)
from ocr_operator.builders.service import build_service
from ocr_operator.canary.plan import FAULT_ENV, CanaryPlan, canary_model_ref
from ocr_operator.spec import OcrServiceSpec

CANARY_ANNOTATION = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT_ANNOTATION = "nginx.ingress.kubernetes.io/canary-weight"
GATEWAY_GROUP = "gateway.networking.k8s.io"
MODEL_NAME_ENV = "OCR__MODEL__NAME"
MODEL_VERSION_ENV = "OCR__MODEL__VERSION"


def canary_name(owner: Owner) -> str:
    return f"{workload_name(owner)}-canary"


def stable_name(owner: Owner) -> str:
    return f"{workload_name(owner)}-stable"


def track_service_name(owner: Owner, track: str) -> str:
    return canary_name(owner) if track == CANARY_TRACK else stable_name(owner)


def _track_selector(owner: Owner, track: str) -> dict[str, str]:
    return {**selector_labels(owner), TRACK_LABEL: track}


def build_canary_deployment(owner: Owner, spec: OcrServiceSpec, plan: CanaryPlan, config_hash: str) -> dict[str, Any]:
    """The canary Deployment (see the module docstring); ``config_hash`` is the shared ConfigMap's."""
    canary = plan.canary
    assert canary is not None
    as_canary = spec.model_copy(
        update={
            "model": canary.model,
            "image": canary.image or spec.image,
            "replicas": plan.replicas,
            "autoscaling": spec.autoscaling.model_copy(update={"enabled": False}),
            "progress_deadline_seconds": canary.analysis.progress_deadline_seconds,
        }
    )
    dep = build_deployment(owner, as_canary, config_hash)
    dep["metadata"]["name"] = canary_name(owner)
    dep["metadata"]["labels"][TRACK_LABEL] = CANARY_TRACK
    dep["spec"]["replicas"] = plan.replicas
    dep["spec"]["selector"] = {"matchLabels": _track_selector(owner, CANARY_TRACK)}
    template = dep["spec"]["template"]
    template["metadata"]["labels"][TRACK_LABEL] = CANARY_TRACK
    annotations = template["metadata"]["annotations"]
    annotations[MODEL_ANNOTATION] = canary_model_ref(canary.model)
    annotations[MODEL_VERSION_ANNOTATION] = canary.model.version
    (container,) = template["spec"]["containers"]
    container["env"] += [
        {"name": MODEL_NAME_ENV, "value": canary.model.name},
        {"name": MODEL_VERSION_ENV, "value": canary.model.version},
    ]
    if plan.fault:
        container["env"].append({"name": FAULT_ENV, "value": plan.fault})
    return dep


def build_track_service(owner: Owner, spec: OcrServiceSpec, track: str) -> dict[str, Any]:
    """A ClusterIP Service selecting one track's pods (a weighted backend; not for clients)."""
    svc = build_service(owner, spec)
    svc["metadata"] = object_meta(owner, spec, track_service_name(owner, track))
    svc["metadata"]["labels"][TRACK_LABEL] = track
    svc["spec"]["type"] = "ClusterIP"
    svc["spec"]["selector"] = _track_selector(owner, track)
    return svc


def build_stable_ingress(owner: Owner, spec: OcrServiceSpec, plan: CanaryPlan | None) -> dict[str, Any] | None:
    """The main Ingress: to the OcrService's Service, or to ``<name>-stable`` while a canary Ingress
    takes its weight (else the canary's pods would get traffic through both)."""
    backend = stable_name(owner) if plan is not None and plan.runs and plan.ingress else None
    return build_ingress(owner, spec, backend)


def build_canary_ingress(owner: Owner, spec: OcrServiceSpec, plan: CanaryPlan) -> dict[str, Any]:
    """ingress-nginx's canary Ingress: same host and path, ``routed_weight`` percent to the canary."""
    ing = build_ingress(owner, spec, canary_name(owner))
    assert ing is not None
    ing["metadata"]["name"] = canary_name(owner)
    ing["metadata"]["labels"][TRACK_LABEL] = CANARY_TRACK
    ing["metadata"]["annotations"] = {
        **ing["metadata"]["annotations"],
        CANARY_ANNOTATION: "true",
        CANARY_WEIGHT_ANNOTATION: str(plan.routed_weight),
    }
    return ing


def _parent_refs(owner: Owner, spec: OcrServiceSpec, plan: CanaryPlan) -> list[dict[str, Any]]:
    assert plan.canary is not None
    if not plan.canary.gateway_refs:
        return [{"group": "", "kind": "Service", "name": workload_name(owner), "port": spec.service.port}]
    refs = []
    for ref in plan.canary.gateway_refs:
        parent: dict[str, Any] = {"group": GATEWAY_GROUP, "kind": "Gateway", "name": ref.name}
        if ref.namespace:
            parent["namespace"] = ref.namespace
        if ref.section_name:
            parent["sectionName"] = ref.section_name
        refs.append(parent)
    return refs


def build_httproute(owner: Owner, spec: OcrServiceSpec, plan: CanaryPlan) -> dict[str, Any]:
    """Gateway API HTTPRoute: ``100 - routed_weight`` to the stable Service, ``routed_weight`` to the canary's."""
    weight = plan.routed_weight
    backends = [
        {"group": "", "kind": "Service", "name": stable_name(owner), "port": spec.service.port, "weight": 100 - weight},
        {"group": "", "kind": "Service", "name": canary_name(owner), "port": spec.service.port, "weight": weight},
    ]
    route_spec: dict[str, Any] = {
        "parentRefs": _parent_refs(owner, spec, plan),
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": spec.ingress.path}}],
                "backendRefs": backends,
            }
        ],
    }
    assert plan.canary is not None
    if plan.canary.gateway_refs and spec.ingress.host:
        route_spec["hostnames"] = [spec.ingress.host]
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": object_meta(owner, spec, workload_name(owner)),
        "spec": copy.deepcopy(route_spec),
    }
