"""PURE builders: a parsed ``OcrServiceSpec`` → the desired child manifests as plain dicts.

Nothing here talks to Kubernetes; every function is deterministic in its inputs, which is what
makes the manifests testable as golden files and the reconcile idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocr_operator.builders.canary import build_stable_ingress
from ocr_operator.builders.configmap import build_configmap, render_config
from ocr_operator.builders.deployment import build_deployment
from ocr_operator.builders.hpa import build_hpa
from ocr_operator.builders.meta import Owner, config_hash, configmap_name, workload_name
from ocr_operator.builders.service import build_service, service_url
from ocr_operator.canary.plan import CanaryPlan
from ocr_operator.revision import stamp
from ocr_operator.spec import OcrServiceSpec


@dataclass(frozen=True)
class ChildKind:
    """A kind of child object: how to address it in the API and in kopf watches."""

    group: str
    version: str
    kind: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


CONFIGMAP = ChildKind("", "v1", "ConfigMap", "configmaps")
SERVICE = ChildKind("", "v1", "Service", "services")
DEPLOYMENT = ChildKind("apps", "v1", "Deployment", "deployments")
INGRESS = ChildKind("networking.k8s.io", "v1", "Ingress", "ingresses")
HPA = ChildKind("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers")
# Apply order: the ConfigMap before the pods that mount it, the Deployment before its HPA.
CHILD_KINDS: tuple[ChildKind, ...] = (CONFIGMAP, SERVICE, DEPLOYMENT, INGRESS, HPA)
KINDS_BY_NAME = {k.kind: k for k in CHILD_KINDS}
# Kinds only ``spec.jobs`` adds (see ``ocr_operator.jobs``): applied and deleted by name, not watched.
PVC = ChildKind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims")
SCALED_OBJECT = ChildKind("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects")
JOBS_ONLY_KINDS: tuple[ChildKind, ...] = (PVC, SCALED_OBJECT)
# The kind only ``spec.canary`` adds, where the Gateway API is installed: applied and deleted by name.
HTTPROUTE = ChildKind("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")
CANARY_ONLY_KINDS: tuple[ChildKind, ...] = (HTTPROUTE,)


@dataclass(frozen=True)
class Children:
    """The desired children of one OcrService; ``None`` means "must not exist" (disabled)."""

    configmap: dict[str, Any]
    service: dict[str, Any]
    deployment: dict[str, Any]
    ingress: dict[str, Any] | None
    hpa: dict[str, Any] | None

    def by_kind(self) -> dict[ChildKind, dict[str, Any] | None]:
        """Children keyed by kind, in apply order."""
        return {
            CONFIGMAP: self.configmap,
            SERVICE: self.service,
            DEPLOYMENT: self.deployment,
            INGRESS: self.ingress,
            HPA: self.hpa,
        }


def child_name(owner: Owner, kind: ChildKind) -> str:
    """The name of the child of this kind (the ConfigMap has a suffix, the others the owner's name)."""
    return configmap_name(owner) if kind is CONFIGMAP else workload_name(owner)


def build_children(owner: Owner, spec: OcrServiceSpec, canary: CanaryPlan | None = None) -> Children:
    """Every desired child of ``owner``: the reconcile's single source of desired state.  Each carries
    the hash of itself (``revision``), so a later look at the child tells a hand edit from a spec
    change the operator has not applied yet.  ``canary``: the canary plan, which moves the Ingress
    onto the stable track's Service while a canary Ingress splits by weight."""
    ingress, hpa = build_stable_ingress(owner, spec, canary), build_hpa(owner, spec)
    return Children(
        configmap=stamp(build_configmap(owner, spec)),
        service=stamp(build_service(owner, spec)),
        deployment=stamp(build_deployment(owner, spec, config_hash(render_config(spec, owner)))),
        ingress=stamp(ingress) if ingress is not None else None,
        hpa=stamp(hpa) if hpa is not None else None,
    )


__all__ = [
    "CANARY_ONLY_KINDS",
    "CHILD_KINDS",
    "CONFIGMAP",
    "DEPLOYMENT",
    "HPA",
    "HTTPROUTE",
    "INGRESS",
    "JOBS_ONLY_KINDS",
    "KINDS_BY_NAME",
    "PVC",
    "SCALED_OBJECT",
    "SERVICE",
    "ChildKind",
    "Children",
    "Owner",
    "build_children",
    "child_name",
    "service_url",
]
