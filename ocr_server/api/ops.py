"""Operational endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify

from .. import metrics
from ..errors import NotReady
from .state import get_state

bp = Blueprint("ops", __name__)

OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The hand-written OpenAPI 3 document (YAML in the package, served as JSON)."""
    doc: dict[str, Any] = yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))
    return doc


@bp.get("/health")
def health() -> Response:
    """Liveness: the worker answers HTTP.  Deliberately ignores the model (that is readiness)."""
    return jsonify({"status": "ok"})


@bp.get("/ready")
def ready() -> Response:
    """Readiness: 200 once the model is loaded and warmed, else 503 with the reason."""
    service = get_state().service
    if not service.ready:
        raise NotReady(service.error or "the model is still loading", retry_after=5)
    info = service.recognizer.info if service.recognizer else None
    return jsonify({"status": "ready", "model": {"name": info.name, "version": info.version} if info else None})


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    """Prometheus exposition, aggregated over all workers."""
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
