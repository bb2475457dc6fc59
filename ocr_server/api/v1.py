"""JSON API v1: ``/api/v1/info``, ``/api/v1/ocr`` (full page), ``/api/v1/recognize`` (line crops).

Both OCR views take ``?model=NAME`` or ``?model=NAME:VERSION`` to read with one of the server's
loaded models (the default without it; 400 ``unknown_model`` for one it has not loaded).

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
from ..documents.reader import DocumentReader, ReadOptions
from ..documents.tiff import is_multipage_tiff
from ..errors import BadRequest, InjectedFault, Overloaded, RequestTimedOut, TooManyPixels
from ..formats import choose_format
from ..formats.json_format import to_json
from ..formats.model import ModelRef
from ..recognition.recognizer import ModelInfo
from ..recognition.registry import list_models
from ..uploads import DOCUMENT_TYPES, SUPPORTED_TYPES, read_uploads
from .state import AppState, get_state

T = TypeVar("T")

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


def _model_param() -> str | None:
    """The request's ``model`` query parameter (``NAME`` or ``NAME:VERSION``), if any."""
    return request.args.get("model")


def _info_json(info: ModelInfo) -> dict[str, Any]:
    return {"name": info.name, "version": info.version}


@bp.get("/info")
def info() -> Response:
    """Models, readiness and the active configuration (the ConfigMap as the server parsed it)."""
    state = get_state()
    loaded = state.service.models
    models = [
        {
            "name": m.info.name,
            "version": m.info.version,
            "input_height": m.info.input_height,
            "num_classes": m.info.num_classes,
            "language": m.info.language,
            "default": i == 0,
            "golden": m.golden.to_json(),
        }
        for i, m in enumerate(loaded)
    ]
    body: dict[str, Any] = {
        # the default model, as before; every loaded one (pick with ?model=NAME[:VERSION]) in "models"
        "model": {k: v for k, v in models[0].items() if k not in ("default", "golden")} if models else None,
        "models": models,
        "ready": state.service.ready,
        "detector": state.config.detection.detector,
        "inference_threads": state.service.inference_threads,
        "supported_types": list(SUPPORTED_TYPES + DOCUMENT_TYPES),
        # whether /api/v1/jobs takes submissions (the page sends several files as a job then)
        "jobs_enabled": state.config.jobs_enabled,
        # the page needs to know that loading failed; the reason (paths, library text) only when exposed
        "load_error": "the model failed to load" if state.service.error else None,
        # the start-up reading check of every model together (each one's in "models"; null until
        # loaded); its reason names no paths
        "golden": state.service.golden.to_json() if state.service.golden else None,
    }
    if state.faults.active:
        body["fault_injection"] = state.faults.to_json()
    if state.config.server.expose_config:
        # off by default: the config tells a stranger how to size an attack, a load error names paths
        models_dir = state.config.model.models_dir
        body["load_error"] = state.service.error
        bundles = list_models(None if models_dir is None else Path(models_dir))
        body["available_models"] = [{"name": b.name, "version": b.version} for b in bundles]
        body["config"] = state.config.model_dump(mode="json", by_alias=True)
    return jsonify(body)


def _maybe_inject_fault(state: AppState) -> None:
    """Test-only (``OCR_FAULT_INJECTION=errors=...``): fail this request with 500 when its turn comes.

    Called after the upload has been read (the connection stays healthy, as after any real error)."""
    if state.error_injector.should_fail():
        raise InjectedFault()


def _shed_counted(err: Overloaded) -> Overloaded:
    metrics.SHED.inc()
    return err


def _flag(name: str) -> bool:
    """A boolean query parameter: absent, ``false``, ``0`` or ``no`` is off; ``true``, ``1``, ``yes`` on."""
    value = request.args.get(name)
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered in ("", "false", "0", "no"):
        return False
    if lowered in ("true", "1", "yes"):
        return True
    raise BadRequest(f"query parameter {name!r} must be true or false, not {value[:20]!r}")


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
    """Full-page OCR of one image or document (PDF, multi-page TIFF), answered in the format asked for."""
    state = get_state()
    chosen = state.service.select(_model_param())
    pipeline = chosen.pipeline
    limits = state.config.limits
    fmt = choose_format(request.args.get("format"), list(request.accept_mimetypes))
    words, page_images = _flag("words"), _flag("page_images")
    (upload,) = read_uploads(request, max_bytes=limits.max_upload_bytes, max_count=1, documents=True)
    g.log_fields = {"image_type": upload.kind, "image_bytes": len(upload.data), "format": fmt.name}
    _maybe_inject_fault(state)
    # What the worker's pixel budget is charged: a single image, its own pixels (from its header);
    # a PDF, one rendered page at a time, each capped at a fair share of the worker's budget (a normal
    # page at pdfDpi is far below it; a bigger one renders at a lower resolution); a multi-page TIFF,
    # whose frames decode at their own size, one page's limit.
    page_share = min(limits.max_pixels, limits.max_worker_pixels // max(1, limits.max_concurrent_requests))
    if upload.kind == "pdf":
        count_pixels: Callable[[], int] = lambda: page_share  # noqa: E731
    elif upload.kind == "tiff" and is_multipage_tiff(upload.data):
        count_pixels = lambda: limits.max_pixels  # noqa: E731
    else:
        count_pixels = lambda: pipeline.count_pixels([upload.data])  # noqa: E731
    options = ReadOptions(
        keep_images=fmt.name == "pdf" or page_images,
        use_text_layer=_flag("use_text_layer"),
        max_page_pixels=page_share,
    )
    reader = DocumentReader(
        pipeline, state.config, ModelRef(chosen.info.name, chosen.info.version, chosen.info.language)
    )
    metrics.count_model_request(chosen.info.name, chosen.info.version)

    def work(deadline: Deadline) -> tuple[Any, bytes | None]:
        doc = reader.read(upload.data, upload.kind, options, deadline)
        return doc, (fmt.writer(doc) if fmt.writer is not None else None)

    doc, body = run_ocr(state, count_pixels, work)
    metrics.observe_stages(doc.timings_ms)
    lines = sum(len(page.lines) for page in doc.pages)
    metrics.LINES.inc(lines)
    g.timings_ms = doc.timings_ms
    g.log_fields.update(lines=lines, pages=len(doc.pages))
    if body is None:
        return jsonify(to_json(doc, words=words, page_images=page_images))
    return Response(
        body,
        content_type=fmt.media_type,  # as written: mimetype= would append a second charset
        headers={"Content-Disposition": f'inline; filename="ocr.{fmt.extension}"', "Vary": "Accept"},
    )


@bp.post("/recognize")
def recognize() -> Response:
    """Recognise pre-cropped line images (repeat the multipart field ``image``); one result each, in order."""
    state = get_state()
    chosen = state.service.select(_model_param())
    pipeline = chosen.pipeline
    limits = state.config.limits
    uploads = read_uploads(request, max_bytes=limits.max_upload_bytes, max_count=limits.max_images_per_request)
    g.log_fields = {"images": len(uploads), "image_bytes": sum(len(u.data) for u in uploads)}
    _maybe_inject_fault(state)
    images = [u.data for u in uploads]
    metrics.count_model_request(chosen.info.name, chosen.info.version)
    result = run_ocr(
        state, lambda: pipeline.count_pixels(images), lambda deadline: pipeline.read_lines(images, deadline)
    )
    metrics.observe_stages(result.timings_ms)
    metrics.LINES.inc(len(result.results))
    g.timings_ms = result.timings_ms
    return jsonify(
        {
            "results": [{"text": r.text, "confidence": r.confidence} for r in result.results],
            "model": _info_json(chosen.info),
            "timings_ms": result.timings_ms,
        }
    )
