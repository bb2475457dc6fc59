"""JSON API v1: ``/api/v1/info``, ``/api/v1/ocr`` (full page), ``/api/v1/recognize`` (line crops).

Order inside an OCR view, and why: refuse early while the model is not ready (503), read and
validate the upload (cheap, and reading the body keeps the connection healthy), then take an
OCR slot or shed with 429, and only then spend CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from .. import metrics
from ..documents.reader import DocumentReader, ReadOptions
from ..errors import BadRequest, Overloaded
from ..formats import choose_format
from ..formats.json_format import to_json
from ..formats.model import ModelRef
from ..recognition.registry import list_models
from ..uploads import DOCUMENT_TYPES, SUPPORTED_TYPES, read_uploads
from .state import get_state

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
    models_dir = state.config.model.models_dir
    return jsonify(
        {
            "model": model,
            "ready": state.service.ready,
            "load_error": state.service.error,
            "detector": state.config.detection.detector,
            "inference_threads": state.service.inference_threads,
            "supported_types": list(SUPPORTED_TYPES + DOCUMENT_TYPES),
            "available_models": [
                {"name": b.name, "version": b.version}
                for b in list_models(None if models_dir is None else Path(models_dir))
            ],
            "config": state.config.model_dump(mode="json", by_alias=True),
        }
    )


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


@bp.post("/ocr")
def ocr() -> Response:
    """Full-page OCR of one image or document (PDF, multi-page TIFF), answered in the format asked for."""
    state = get_state()
    pipeline = state.service.pipeline()
    limits = state.config.limits
    fmt = choose_format(request.args.get("format"), list(request.accept_mimetypes))
    words, page_images = _flag("words"), _flag("page_images")
    options = ReadOptions(keep_images=fmt.name == "pdf" or page_images, use_text_layer=_flag("use_text_layer"))
    (upload,) = read_uploads(request, max_bytes=limits.max_upload_bytes, max_count=1, documents=True)
    g.log_fields = {"image_type": upload.kind, "image_bytes": len(upload.data), "format": fmt.name}
    model = _model_json()
    reader = DocumentReader(pipeline, state.config, ModelRef(**model) if model else None)
    try:
        with state.limiter.slot():
            doc = reader.read(upload.data, upload.kind, options)
            body = fmt.writer(doc) if fmt.writer is not None else None
    except Overloaded as err:
        raise _shed_counted(err) from None
    metrics.observe_stages(doc.timings_ms)
    lines = sum(len(page.lines) for page in doc.pages)
    metrics.LINES.inc(lines)
    g.timings_ms = doc.timings_ms
    g.log_fields.update(lines=lines, pages=len(doc.pages))
    if body is None:
        return jsonify(to_json(doc, words=words, page_images=page_images))
    return Response(
        body,
        mimetype=fmt.media_type,
        headers={"Content-Disposition": f'inline; filename="ocr.{fmt.extension}"', "Vary": "Accept"},
    )


@bp.post("/recognize")
def recognize() -> Response:
    """Recognise pre-cropped line images (repeat the multipart field ``image``); one result each, in order."""
    state = get_state()
    pipeline = state.service.pipeline()
    limits = state.config.limits
    uploads = read_uploads(request, max_bytes=limits.max_upload_bytes, max_count=limits.max_images_per_request)
    g.log_fields = {"images": len(uploads), "image_bytes": sum(len(u.data) for u in uploads)}
    try:
        with state.limiter.slot():
            result = pipeline.read_lines([u.data for u in uploads])
    except Overloaded as err:
        raise _shed_counted(err) from None
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
