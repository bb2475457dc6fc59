"""Per-request bookkeeping: request id, one JSON access-log line, request metrics.

Probe and scrape endpoints (``/health``, ``/ready``, ``/metrics``) log at debug level so the
kubelet's probes do not drown the useful lines.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from .. import metrics
from ..deadline import Deadline
from ..framing import SECURITY_HEADERS
from ..logging import REQUEST_ID_HEADER, request_id_from
from .state import get_state

log = logging.getLogger("ocr_server.access")

QUIET_ENDPOINTS = frozenset({"/health", "/ready", "/metrics"})
# The page loads only its own files; uploaded images are shown from blob: URLs.
PAGE_CSP = "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'"


def _endpoint() -> str:
    """The matched route template (bounded label cardinality), or ``unmatched``."""
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def register_request_hooks(app: Flask) -> None:
    """Install before/after/teardown hooks on ``app``."""

    @app.before_request
    def _start() -> None:
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        g.started = time.perf_counter()
        g.timings_ms = None
        g.log_fields = {}
        # the request's time budget starts now (the body's read counts against it too)
        g.deadline = Deadline(get_state().config.limits.request_timeout_seconds)
        metrics.IN_FLIGHT.inc()
        g.in_flight = True

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or request_id_from(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        for name, value in SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        endpoint = _endpoint()
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        method = metrics.method_label(request.method)
        metrics.REQUESTS.labels(endpoint=endpoint, method=method, status=str(response.status_code)).inc()
        metrics.REQUEST_SECONDS.labels(endpoint=endpoint).observe(seconds)
        fields = {
            "request_id": request_id,
            "method": method,
            "path": request.path,
            "endpoint": endpoint,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000.0, 2),
            "bytes_in": request.content_length,
            **g.get("log_fields", {}),
        }
        if g.get("timings_ms"):
            fields["timings_ms"] = g.timings_ms
        level = logging.DEBUG if endpoint in QUIET_ENDPOINTS and response.status_code < 400 else logging.INFO
        log.log(level, "request", extra={"fields": fields})
        return response

    @app.teardown_request
    def _teardown(_exc: BaseException | None) -> None:
        if g.pop("in_flight", False):
            metrics.IN_FLIGHT.dec()
