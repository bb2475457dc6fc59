"""PURE: OcrService spec → the Service in front of the server pods."""

from __future__ import annotations

from typing import Any

from ocr_operator.builders.meta import Owner, object_meta, selector_labels, workload_name
from ocr_operator.spec import OcrServiceSpec


def build_service(owner: Owner, spec: OcrServiceSpec) -> dict[str, Any]:
    """A Service on ``spec.service.port`` forwarding to the pods' named ``http`` port (8080)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(owner, spec, workload_name(owner), spec.service.annotations),
        "spec": {
            "type": spec.service.type,
            "selector": selector_labels(owner),
            "ports": [{"name": "http", "port": spec.service.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def service_url(owner: Owner, spec: OcrServiceSpec) -> str:
    """Where clients send requests: the Ingress host when there is one, else the cluster DNS name."""
    if spec.ingress.enabled and spec.ingress.host:
        scheme = "https" if spec.ingress.tls.secret_name else "http"
        return f"{scheme}://{spec.ingress.host}{spec.ingress.path}"
    port = "" if spec.service.port == 80 else f":{spec.service.port}"
    return f"http://{workload_name(owner)}.{owner.namespace}.svc{port}/"
