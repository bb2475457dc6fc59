"""PURE: OcrService spec → the HorizontalPodAutoscaler (or ``None`` when autoscaling is disabled)."""

from __future__ import annotations

from typing import Any

from ocr_operator.builders.meta import Owner, object_meta, workload_name
from ocr_operator.spec import OcrServiceSpec


def build_hpa(owner: Owner, spec: OcrServiceSpec) -> dict[str, Any] | None:
    """An autoscaling/v2 HPA on average CPU utilisation of the server Deployment."""
    auto = spec.autoscaling
    if not auto.enabled:
        return None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": object_meta(owner, spec, workload_name(owner)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload_name(owner)},
            "minReplicas": auto.min_replicas,
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
