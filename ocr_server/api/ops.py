"""Operational endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

from .. import metrics
from ..errors import GoldenSetFailed, NotReady, Unhealthy
from .state import get_state

bp = Blueprint("ops", __name__)

OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The hand-written OpenAPI 3 document (YAML in the package, served as JSON)."""
    doc: dict[str, Any] = yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))
    return doc


def wedge_after_seconds(request_timeout_s: float) -> float:
    """How long an OCR slot may stay held before the worker counts as wedged: twice the request
    timeout (at least 10 s more).  Work past its deadline stops at its next check, within a
    decoder block or a pipeline stage; work still running long after that never will."""
    return request_timeout_s + max(10.0, request_timeout_s)


@bp.get("/health")
def health() -> Response:
    """Liveness: the worker answers HTTP and no OCR work is stuck far past its deadline.

    Deliberately ignores the model (that is readiness).  A worker whose event loop is blocked does
    not answer at all, and gunicorn's heartbeat replaces it; a worker whose OCR threads are stuck
    still answers, so this check is what lets Kubernetes restart it."""
    state = get_state()
    oldest = state.limiter.oldest_age()
    limit = wedge_after_seconds(state.config.limits.request_timeout_seconds)
    if oldest > limit:
        raise Unhealthy(f"an OCR slot has been held for {oldest:.0f} s (limit {limit:.0f} s)")
    return jsonify({"status": "ok"})


@bp.get("/ready")
def ready() -> Response:
    """Readiness: 200 once the model is loaded, warmed and has read its golden set within bound,
    and the worker can take OCR work.

    503 while loading, after a failed load, after a failed golden set (``golden_failed``; the body
    carries the verdict under ``golden``), or while every OCR slot is held by work past its
    deadline (no request could be served; ordinary saturation stays ready and sheds with 429)."""
    state = get_state()
    service = state.service
    golden = service.golden
    if golden is not None and not golden.passed:
        failed = GoldenSetFailed(golden.reason)
        response = jsonify({**failed.to_dict(), "golden": golden.to_json()})
        response.status_code = failed.status
        return response
    if not service.ready:
        raise NotReady(service.error or "the model is still loading", retry_after=5)
    ages = state.limiter.ages()
    timeout = state.config.limits.request_timeout_seconds
    if len(ages) >= state.limiter.limit and ages[-1] > timeout:
        raise NotReady("every OCR slot is held by work past its deadline", retry_after=5)
    info = service.recognizer.info if service.recognizer else None
    return jsonify(
        {
            "status": "ready",
            "model": {"name": info.name, "version": info.version} if info else None,
            "golden": golden.to_json() if golden else None,
        }
    )


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    """Prometheus exposition, aggregated over all workers."""
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
