"""I/O: does the cluster serve an optional API (KEDA's ScaledObject, the Gateway API's HTTPRoute)?

Asked the way the chart asks for the ServiceMonitor CRD: the API server's discovery document of the
group/version lists the resource.  The answer is cached (one request a minute at most), and a 404 or
403 means "not served" (discovery is open to every authenticated user; a 403 is an unusual cluster).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from kubernetes.client.rest import ApiException

from ocr_operator.builders import ChildKind
from ocr_operator.errors import api_error

if TYPE_CHECKING:
    from ocr_operator.apply import KubeApi

CACHE_SECONDS = 60.0


class ServedDetector:
    """Callable ``(api) -> bool``: whether ``kind`` is served now (cached ``ttl`` seconds)."""

    def __init__(self, kind: ChildKind, ttl: float = CACHE_SECONDS) -> None:
        self.kind = kind
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, bool] | None = None

    def __call__(self, api: KubeApi) -> bool:
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.ttl:
                return self._cached[1]
        where = f"/apis/{self.kind.group}/{self.kind.version}"
        try:
            resources = api._request("get", where)[1]
            present = any(r.get("name") == self.kind.plural for r in resources.get("resources") or [])
        except ApiException as err:
            if err.status not in (404, 403):
                raise api_error(f"discover {self.kind.group}/{self.kind.version}", err) from err
            present = False
        with self._lock:
            self._cached = (time.monotonic(), present)
        return present
