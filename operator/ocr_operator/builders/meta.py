"""PURE naming, labels, owner references and the config hash shared by every child builder.

One place decides what children are called and how they are labelled, so the builders and the apply
layer (which deletes disabled children by name) cannot disagree.  The drift watch recognises children
by their controller owner reference, not by these labels (a label can be removed by hand).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from ocr_operator.spec import API_VERSION, GROUP, KIND, OcrServiceSpec

# app.kubernetes.io/name of every child and server pod: not the chart's "ocr-crnn" (its operator pods),
# so a selector on the name tells OCR servers and the operator apart.
APP_NAME = "ocr-server"
COMPONENT = "ocr-server"
MANAGED_BY = "ocr-operator"
FIELD_MANAGER = "ocr-operator"
CONTAINER_NAME = "ocr-server"

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_VERSION = "app.kubernetes.io/version"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"

CONFIG_HASH_ANNOTATION = f"{GROUP}/config-hash"
# Which Deployment a server pod belongs to: the stable one, or the canary (``spec.canary``).  Both
# tracks share the selector labels, so the one Service reaches both; the per-track Services select
# on this label as well.
TRACK_LABEL = f"{GROUP}/track"
STABLE_TRACK = "stable"
CANARY_TRACK = "canary"
MODEL_ANNOTATION = f"{GROUP}/model"
MODEL_VERSION_ANNOTATION = f"{GROUP}/model-version"

CONFIG_KEY = "config.yaml"
CONFIG_DIR = "/etc/ocr"
SERVER_PORT = 8080


@dataclass(frozen=True)
class Owner:
    """The identity of the OcrService the children belong to (all a builder needs of its body)."""

    namespace: str
    name: str
    uid: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Owner:
        meta = body.get("metadata") or {}
        return cls(namespace=meta["namespace"], name=meta["name"], uid=meta["uid"])

    def reference(self) -> dict[str, Any]:
        """The controller owner reference; the garbage collector deletes children with their owner."""
        body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": self.name, "uid": self.uid}}
        return dict(kopf.build_owner_reference(body, controller=True, block_owner_deletion=True))


def workload_name(owner: Owner) -> str:
    """Deployment, Service, Ingress and HPA share the OcrService's name (what users look for)."""
    return owner.name


def configmap_name(owner: Owner) -> str:
    return f"{owner.name}-config"


def model_ref(spec: OcrServiceSpec) -> str:
    """``crnn-en-1.0.0``: the model folder name the server loads and the MODEL column shows."""
    return f"{spec.model.name}-{spec.model.version}"


def selector_labels(owner: Owner) -> dict[str, str]:
    """The Deployment selector (immutable), Service selector and topology spread selector.

    Only labels that never change (not the name, not the version): a Deployment whose live selector
    differs from this is replaced by the apply layer (``apply.replace_deployment``), so never change
    these lightly."""
    return {LABEL_INSTANCE: owner.name, LABEL_COMPONENT: COMPONENT}


def stable_pod_selector(owner: Owner) -> str:
    """Label selector (string form) of the stable track's server pods, old ReplicaSets' included."""
    labels = {**selector_labels(owner), TRACK_LABEL: STABLE_TRACK}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _label_value(value: str) -> str:
    """Label values allow [A-Za-z0-9_.-] and 63 chars; a tag like ``1.0@sha256:…`` does not fit."""
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in value)[:63]
    return cleaned.strip("_.-") or "unknown"


def standard_labels(owner: Owner, spec: OcrServiceSpec) -> dict[str, str]:
    """The recommended ``app.kubernetes.io/*`` labels on every child (and the pods)."""
    return {
        LABEL_NAME: APP_NAME,
        **selector_labels(owner),
        LABEL_VERSION: _label_value(spec.image.tag),
        LABEL_MANAGED_BY: MANAGED_BY,
    }


def object_meta(
    owner: Owner,
    spec: OcrServiceSpec,
    name: str,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Metadata of a child: name, namespace, labels, owner reference, optional annotations."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": owner.namespace,
        "labels": standard_labels(owner, spec),
        "ownerReferences": [owner.reference()],
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def config_hash(content: str) -> str:
    """Short content hash of the rendered config file; on the pod template it rolls pods on change."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]
