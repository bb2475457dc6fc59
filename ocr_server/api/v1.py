"""JSON API v1: ``/api/v1/info``, ``/api/v1/ocr`` (full page), ``/api/v1/recognize`` (line crops).

Order inside an OCR view, and why: refuse early while the model is not ready (503), read and
validate the upload (cheap, and reading the body keeps the connection healthy), take an OCR slot
or shed with 429, then, on a native thread (:func:`run_ocr`), count the images' pixels from their
headers (413 over ``limits.maxRequestPixels``), take them from the worker's budget or shed with
429, and only then spend CPU, under the request's deadline (504 past
``limits.requestTimeoutSeconds``).  Nothing that parses image bytes runs on the gevent hub.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request

from .. import metrics
from ..deadline import Deadline
from ..errors import Overloaded, RequestTimedOut, TooManyPixels
from ..recognition.registry import list_models
from ..uploads import SUPPORTED_TYPES, read_uploads
from .state import AppState, get_state

T = TypeVar("T")

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


def _model_json() -> dict[str, Any] | None:
    recognizer = get_state().service.recognizer
    if recognizer is None:
        return None
    return {"name": recognizer.info.name, "version": recognizer.info.version}


@bp.get("/info")
def info() -> Response:
    """Model, readiness and the active configuration (the ConfigMap as the server parsed it)."""
    state = get_state()
    recognizer = state.service.recognizer
    model: dict[str, Any] | None = None
    if recognizer is not None:
        model = {
            "name": recognizer.info.name,
            "version": recognizer.info.version,
            "input_height": recognizer.info.input_height,
            "num_classes": recognizer.info.num_classes,
        }
    body: dict[str, Any] = {
        "model": model,
        "ready": state.service.ready,
        "detector": state.config.detection.detector,
        "inference_threads": state.service.inference_threads,
        "supported_types": list(SUPPORTED_TYPES),
        # the page needs to know that loading failed; the reason (paths, library text) only when exposed
        "load_error": "the model failed to load" if state.service.error else None,
    }
    if state.config.server.expose_config:
        # off by default: the config tells a stranger how to size an attack, a load error names paths
        models_dir = state.config.model.models_dir
        body["load_error"] = state.service.error
        bundles = list_models(None if models_dir is None else Path(models_dir))
        body["available_models"] = [{"name": b.name, "version": b.version} for b in bundles]
        body["config"] = state.config.model_dump(mode="json", by_alias=True)
    return jsonify(body)


def _shed_counted(err: Overloaded) -> Overloaded:
    metrics.SHED.inc()
    return err


def run_ocr(state: AppState, count_pixels: Callable[[], int], work: Callable[[Deadline], T]) -> T:
    """Run ``work`` within every per-request bound, all of it (header parsing included) off the hub.

    Takes an OCR slot (429 when none is free), then on a native thread counts the images' pixels
    from their headers (413 over ``limits.maxRequestPixels``), reserves them from the worker's
    budget (429 when ``limits.maxWorkerPixels`` cannot take them) and runs ``work``; 504 past the
    deadline.  The slot and the pixels are given back when the work has really ended, which may
    be a moment after a 504 (the work stops at its next deadline check)."""
    limits = state.config.limits
    try:
        release_slot = state.limiter.acquire()
    except Overloaded as err:
        raise _shed_counted(err) from None
    releases = [release_slot]
    deadline: Deadline = g.deadline

    def job() -> T:
        pixels = count_pixels()
        if pixels > limits.max_request_pixels:
            raise TooManyPixels(
                f"the images hold {pixels} pixels together; the limit per request is {limits.max_request_pixels}"
            )
        releases.append(state.pixels.reserve(pixels))
        return work(deadline)

    def done() -> None:
        for release in reversed(releases):
            release()

    try:
        return state.offloader.run(job, deadline, done)
    except Overloaded as err:
        raise _shed_counted(err) from None
    except RequestTimedOut:
        metrics.TIMEOUTS.inc()
        raise


@bp.post("/ocr")
def ocr() -> Response:
    """Full-page OCR of one image: lines in reading order with boxes, confidences and timings."""
    state = get_state()
    pipeline = state.service.pipeline()
    limits = state.config.limits
    (upload,) = read_uploads(request, max_bytes=limits.max_upload_bytes, max_count=1)
    g.log_fields = {"image_type": upload.kind, "image_bytes": len(upload.data)}
    result = run_ocr(
        state,
        lambda: pipeline.count_pixels([upload.data]),
        lambda deadline: pipeline.read_page(upload.data, deadline),
    )
    metrics.observe_stages(result.timings_ms)
    metrics.LINES.inc(len(result.lines))
    g.timings_ms = result.timings_ms
    g.log_fields["lines"] = len(result.lines)
    return jsonify(
        {
            "text": result.text,
            "lines": [{"text": ln.text, "confidence": ln.confidence, "box": list(ln.box)} for ln in result.lines],
            "image": {"width": result.width, "height": result.height},
            "model": _model_json(),
            "timings_ms": result.timings_ms,
        }
    )


@bp.post("/recognize")
def recognize() -> Response:
    """Recognise pre-cropped line images (repeat the multipart field ``image``); one result each, in order."""
    state = get_state()
    pipeline = state.service.pipeline()
    limits = state.config.limits
    uploads = read_uploads(request, max_bytes=limits.max_upload_bytes, max_count=limits.max_images_per_request)
    g.log_fields = {"images": len(uploads), "image_bytes": sum(len(u.data) for u in uploads)}
    images = [u.data for u in uploads]
    result = run_ocr(
        state, lambda: pipeline.count_pixels(images), lambda deadline: pipeline.read_lines(images, deadline)
    )
    metrics.observe_stages(result.timings_ms)
    metrics.LINES.inc(len(result.results))
    g.timings_ms = result.timings_ms
    return jsonify(
        {
            "results": [{"text": r.text, "confidence": r.confidence} for r in result.results],
            "model": _model_json(),
            "timings_ms": result.timings_ms,
        }
    )
