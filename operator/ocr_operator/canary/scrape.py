"""I/O: each track's server pods and their ``/metrics``, through the API server.

Pods are found by the OcrService's selector labels plus ``ocr-crnn.io/track``; only running pods with
an IP are scraped (a pod still starting has nothing to say).  ``/metrics`` is read through the API
server's pod proxy (``pods/proxy`` get): it works wherever the operator reaches the API server (in the
cluster, or outside it in development and the tests) and needs no NetworkPolicy admitting the operator
to the server pods; the cost is one small request per pod per analysis interval through the API server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocr_operator.builders.meta import SERVER_PORT, TRACK_LABEL, Owner, selector_labels

if TYPE_CHECKING:
    from ocr_operator.apply import KubeApi


@dataclass(frozen=True)
class PodRef:
    name: str
    track: str


def pod_selector(owner: Owner) -> str:
    labels = selector_labels(owner)
    return ",".join([*(f"{k}={v}" for k, v in sorted(labels.items())), TRACK_LABEL])


class ApiPods:
    """``(owner) -> [PodRef]``: the running server pods of both tracks."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api

    def __call__(self, owner: Owner) -> list[PodRef]:
        pods = []
        for pod in self.api.list_pods(owner.namespace, pod_selector(owner)):
            meta, status = pod.get("metadata") or {}, pod.get("status") or {}
            if meta.get("deletionTimestamp") or status.get("phase") != "Running" or not status.get("podIP"):
                continue
            pods.append(PodRef(meta["name"], (meta.get("labels") or {}).get(TRACK_LABEL, "")))
        return pods


class PodProxyMetrics:
    """``(namespace, pod) -> text``: the pod's ``/metrics`` through the API server's pod proxy."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api

    def __call__(self, namespace: str, pod: str) -> str:
        return self.api.pod_get(namespace, pod, SERVER_PORT, "/metrics")
