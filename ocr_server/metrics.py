"""Prometheus metrics, correct under several gunicorn workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``gunicorn.conf.py`` sets it before any worker starts),
every worker writes its samples to files there and ``/metrics`` aggregates them, whichever
worker answers the scrape.  Without it (``flask run``, tests) the process's default registry is
used.  Gauges declare how worker values combine; ``live*`` modes drop exited workers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "ocr_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["endpoint", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "ocr_http_request_duration_seconds",
    "Wall time from request start to response, by route template.",
    ["endpoint"],
    buckets=_LATENCY_BUCKETS,
)
STAGE_SECONDS = Histogram(
    "ocr_stage_duration_seconds",
    "Time spent in each pipeline stage (decode, preprocess, detect, recognize, total).",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "ocr_http_requests_in_flight",
    "Requests being handled now, summed over live workers.",
    multiprocess_mode="livesum",
)
TIMEOUTS = Counter(
    "ocr_requests_timed_out_total", "Requests abandoned and answered 504 past limits.requestTimeoutSeconds."
)
LINES = Counter("ocr_lines_recognized_total", "Text lines recognised (pages and line uploads).")
SHED = Counter("ocr_requests_shed_total", "Requests refused with 429 because every OCR slot was busy.")
MODEL_INFO = Gauge(
    "ocr_model_info",
    "The loaded recognizer (value 1), labelled with its name and version.",
    ["name", "version"],
    multiprocess_mode="livemax",
)
MODEL_REQUESTS = Counter(
    "ocr_model_requests_total",
    "OCR requests (/api/v1/ocr, /api/v1/recognize) accepted for reading, by the loaded model they chose.",
    ["name", "version"],
)
MODEL_READY = Gauge(
    "ocr_model_ready",
    "1 when every live worker has its model loaded and warmed, else 0.",
    multiprocess_mode="livemin",
)

GOLDEN_CER = Gauge(
    "ocr_golden_cer",
    "CER the worker measured on its model bundle's golden set at start-up (worst live worker; 0 when "
    "the bundle has none).",
    multiprocess_mode="livemax",
)
GOLDEN_PASSED = Gauge(
    "ocr_golden_passed",
    "1 when every live worker's model read its golden set within the bound (or has none), else 0 "
    "(also 0 until the check has run).",
    multiprocess_mode="livemin",
)


# The methods the ``method`` label may take; anything else a client sends is counted as "other",
# so a client cannot create label series at will.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


def method_label(method: str) -> str:
    """``method`` when it is a standard one, else ``other``."""
    return method if method in KNOWN_METHODS else "other"


def count_model_request(name: str, version: str) -> None:
    """Count one OCR request for the model it reads with (labels only ever name loaded models)."""
    MODEL_REQUESTS.labels(name=name, version=version).inc()


def observe_stages(timings_ms: Mapping[str, float]) -> None:
    """Record one request's stage timings (milliseconds) in the stage histogram."""
    for stage, ms in timings_ms.items():
        STAGE_SECONDS.labels(stage=stage).observe(ms / 1000.0)


def render() -> tuple[bytes, str]:
    """The exposition text for ``/metrics`` and its content type."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
