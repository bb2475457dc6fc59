"""The one place where exceptions become HTTP responses: ``{"error": {"code", "message"}}``.

Our own :class:`~ocr_server.errors.OcrError` carries its status and code; Werkzeug's HTTP errors
(404, 405, and 413 from ``MAX_CONTENT_LENGTH``) get the same body shape; anything else is logged
with its traceback and answered as a bare 500 — never a stack trace in a response.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from ..errors import OcrError, error_body

log = logging.getLogger("ocr_server.api")


def error_response(status: int, code: str, message: str, retry_after: int | None = None) -> Response:
    """A JSON error response; ``Retry-After`` is set when the client should come back later."""
    response = jsonify(error_body(code, message))
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _http_code(err: HTTPException) -> str:
    """``"Request Entity Too Large"`` → ``payload_too_large`` (our name), else snake_case of the name."""
    if err.code == 413:
        return "payload_too_large"
    return re.sub(r"[^a-z0-9]+", "_", (err.name or "error").lower()).strip("_")


def register_error_handlers(app: Flask) -> None:
    """Install the three handlers on ``app``."""

    @app.errorhandler(OcrError)
    def _ocr_error(err: OcrError) -> Response:
        if err.status >= 500:
            log.error("request failed: %s", err.message)
        return error_response(err.status, err.code, err.message, err.retry_after)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Response:
        status = err.code or 500
        message = err.description or err.name
        if status == 413:
            limit = app.config.get("OCR_MAX_UPLOAD_BYTES")
            message = f"the request body exceeds the upload limit of {limit} bytes"
        return error_response(status, _http_code(err), message)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, OcrError.code, OcrError.default_message)
