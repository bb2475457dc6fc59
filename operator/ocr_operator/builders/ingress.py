"""PURE: OcrService spec → the Ingress (or ``None`` when ingress is disabled)."""

from __future__ import annotations

import math
from typing import Any

from ocr_operator.builders.meta import Owner, object_meta, workload_name
from ocr_operator.spec import OcrServiceSpec

BODY_SIZE_ANNOTATION = "nginx.ingress.kubernetes.io/proxy-body-size"
READ_TIMEOUT_ANNOTATION = "nginx.ingress.kubernetes.io/proxy-read-timeout"
_MIB = 1024 * 1024


def max_body_size(spec: OcrServiceSpec) -> str:
    """The ingress body limit: as set, or the server's upload limit plus 1 MiB of multipart overhead,
    so the ingress never refuses an upload the server would accept."""
    if spec.ingress.max_body_size:
        return spec.ingress.max_body_size
    return f"{math.ceil(spec.server.max_upload_bytes / _MIB) + 1}m"


def build_ingress(owner: Owner, spec: OcrServiceSpec, backend: str | None = None) -> dict[str, Any] | None:
    """An Ingress routing ``host``/``path`` to the Service (or to ``backend``, another Service of the
    OcrService: a canary track's); user annotations override the defaults."""
    ing = spec.ingress
    if not ing.enabled:
        return None
    annotations = {
        BODY_SIZE_ANNOTATION: max_body_size(spec),
        READ_TIMEOUT_ANNOTATION: str(spec.server.request_timeout_seconds),
        **ing.annotations,
    }
    rule = {
        "host": ing.host,
        "http": {
            "paths": [
                {
                    "path": ing.path,
                    "pathType": "Prefix",
                    "backend": {"service": {"name": backend or workload_name(owner), "port": {"name": "http"}}},
                }
            ]
        },
    }
    ingress_spec: dict[str, Any] = {"rules": [rule]}
    if ing.class_name:
        ingress_spec["ingressClassName"] = ing.class_name
    if ing.tls.secret_name:
        ingress_spec["tls"] = [{"hosts": [ing.host], "secretName": ing.tls.secret_name}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": object_meta(owner, spec, workload_name(owner), annotations),
        "spec": ingress_spec,
    }
