"""Helpers for the canary tests: server-like /metrics text, and a fake metrics source for the loop."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from ocr_operator.builders import Owner
from ocr_operator.canary.scrape import PodRef

# The server's own buckets (ocr_server.metrics), so the p95 maths sees what production sends.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)


def metrics_text(
    ok: int = 0, errors: int = 0, latency_s: float = 0.04, *, endpoint: str = "/api/v1/recognize", probes: int = 50
) -> str:
    """The /metrics of a server that answered ``ok`` 200s and ``errors`` 500s on ``endpoint``, each in
    ``latency_s``, plus ``probes`` readiness checks (which the analysis must ignore)."""
    registry = CollectorRegistry()
    requests = Counter("ocr_http_requests_total", "requests", ["endpoint", "method", "status"], registry=registry)
    seconds = Histogram(
        "ocr_http_request_duration_seconds", "latency", ["endpoint"], buckets=BUCKETS, registry=registry
    )
    for status, count in (("200", ok), ("500", errors)):
        if count:
            requests.labels(endpoint=endpoint, method="POST", status=status).inc(count)
        for _ in range(count):
            seconds.labels(endpoint=endpoint).observe(latency_s)
    requests.labels(endpoint="/ready", method="GET", status="503").inc(probes)
    for _ in range(probes):
        seconds.labels(endpoint="/ready").observe(9.0)
    return generate_latest(registry).decode()


class FakeMetrics:
    """Pods and their cumulative counters, as a test sets them; ``serve`` adds requests to a pod."""

    def __init__(self) -> None:
        self.pods: dict[str, str] = {}  # pod → track
        self.counts: dict[str, tuple[int, int, float]] = {}  # pod → (ok, errors, latency)
        self.scrapes = 0

    def add(self, pod: str, track: str) -> None:
        self.pods[pod] = track
        self.counts[pod] = (0, 0, 0.04)

    def serve(self, pods: Iterable[str], ok: int, errors: int = 0, latency_s: float = 0.04) -> None:
        for pod in pods:
            old_ok, old_err, _ = self.counts[pod]
            self.counts[pod] = (old_ok + ok, old_err + errors, latency_s)

    def list_pods(self, owner: Owner) -> list[PodRef]:
        return [PodRef(name, track) for name, track in self.pods.items()]

    def metrics(self, namespace: str, pod: str) -> str:
        self.scrapes += 1
        ok, errors, latency = self.counts[pod]
        return metrics_text(ok, errors, latency)
