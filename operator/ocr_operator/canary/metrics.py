"""PURE: the servers' Prometheus text → per-pod counters → a track's error rate and p95 over a window.

The servers export cumulative counters (``ocr_http_requests_total{endpoint,method,status}``) and a
latency histogram (``ocr_http_request_duration_seconds{endpoint}``).  A window's figures are the
*difference* between two scrapes of the same pod, as Prometheus's ``increase()`` computes them: a
counter that went down means the pod restarted, and then the later scrape counts from zero.  Only the
OCR routes are analysed: probes and the metrics scrapes themselves would dilute both figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

REQUESTS_METRIC = "ocr_http_requests"  # the parser drops the counter's ``_total`` from the family name
LATENCY_METRIC = "ocr_http_request_duration_seconds"
# The routes that read images: what a model version changes.
ANALYSED_ENDPOINTS = frozenset({"/api/v1/recognize", "/api/v1/ocr"})
# 422: an image the server could not decode or use.  Counted as a failure because a canary that cannot
# read what the stable reads is worse; bad uploads hit both tracks alike, and a canary is only blamed
# for an error rate above the stable's (see ``analysis``).
ERROR_STATUSES = frozenset({"422"})


def is_error(status: str) -> bool:
    """5xx (504 is the server's timeout answer) and 422 (undecodable or unusable image)."""
    return status.startswith("5") or status in ERROR_STATUSES


@dataclass(frozen=True)
class PodCounters:
    """One pod's cumulative counters (or a window's increase of them), OCR routes only.

    ``requests``: (endpoint, status) → count; ``buckets``: upper bound (seconds, ``inf`` last) → count,
    summed over the analysed endpoints."""

    requests: Mapping[tuple[str, str], float] = field(default_factory=dict)
    buckets: Mapping[float, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.requests.values())

    @property
    def errors(self) -> float:
        return sum(v for (_, status), v in self.requests.items() if is_error(status))


def parse_metrics(text: str) -> PodCounters:
    """The analysed counters of one ``/metrics`` answer; raises ``ValueError`` on unparsable text."""
    requests: dict[tuple[str, str], float] = {}
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in (REQUESTS_METRIC, LATENCY_METRIC):
            continue
        for sample in family.samples:
            endpoint = sample.labels.get("endpoint") or sample.labels.get("route")
            if endpoint not in ANALYSED_ENDPOINTS:
                continue
            if family.name == REQUESTS_METRIC and sample.name.endswith("_total"):
                key = (endpoint, sample.labels.get("status", ""))
                requests[key] = requests.get(key, 0.0) + sample.value
            elif family.name == LATENCY_METRIC and sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return PodCounters(requests, buckets)


@dataclass(frozen=True)
class Sample:
    """One scrape of one pod: when (monotonic seconds) and what it said."""

    at: float
    counters: PodCounters


def _increase(new: Mapping, old: Mapping) -> dict:
    return {k: max(0.0, v - old.get(k, 0.0)) for k, v in new.items()}


def increase(new: PodCounters, old: PodCounters) -> PodCounters:
    """``new - old``, or ``new`` itself when any counter went down (the pod restarted in between)."""
    went_down = any(v < old.requests.get(k, 0.0) for k, v in new.requests.items()) or any(
        v < old.buckets.get(k, 0.0) for k, v in new.buckets.items()
    )
    went_down = went_down or new.total < old.total
    if went_down:
        return new
    return PodCounters(_increase(new.requests, old.requests), _increase(new.buckets, old.buckets))


def window_increase(samples: Sequence[Sample], window: float) -> PodCounters | None:
    """The increase over (about) the last ``window`` seconds of one pod's samples (oldest first):
    from the newest sample at least ``window`` old, else from the oldest one (a pod younger than the
    window: all it has).  ``None`` with fewer than two samples (nothing to compare yet)."""
    if len(samples) < 2:
        return None
    latest = samples[-1]
    base = samples[0]
    for sample in samples[:-1]:
        if latest.at - sample.at >= window:
            base = sample
        else:
            break
    return increase(latest.counters, base.counters)


def merge(parts: Iterable[PodCounters]) -> PodCounters:
    """The sum of several pods' counters (one track)."""
    requests: dict[tuple[str, str], float] = {}
    buckets: dict[float, float] = {}
    for part in parts:
        for k, v in part.requests.items():
            requests[k] = requests.get(k, 0.0) + v
        for b, v in part.buckets.items():
            buckets[b] = buckets.get(b, 0.0) + v
    return PodCounters(requests, buckets)


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus's ``histogram_quantile``: linear interpolation inside the bucket holding the q-th
    observation; an answer in the ``+Inf`` bucket is the highest finite bound.  ``None``: no data."""
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]):
        return None
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


@dataclass(frozen=True)
class TrackStats:
    """One track's figures over the window."""

    requests: int
    errors: int
    p95_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @classmethod
    def of(cls, counters: PodCounters) -> TrackStats:
        p95 = histogram_quantile(0.95, counters.buckets)
        return cls(
            requests=round(counters.total),
            errors=round(counters.errors),
            p95_ms=round(p95 * 1000.0, 2) if p95 is not None else None,
        )
