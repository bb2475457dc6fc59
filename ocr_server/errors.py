"""The server's one exception hierarchy: each error carries its HTTP status and a stable code.

Every layer raises these (uploads, decoding, the pipeline, the concurrency limiter) without
knowing about HTTP; :func:`ocr_server.api.errors.register_error_handlers` is the one place that
turns them (and anything unexpected) into ``{"error": {"code", "message"}}``.  Keeping the mapping
here, as data on the classes, means the OpenAPI document, the handlers and the tests agree.

This module imports nothing but the standard library, so the pipeline can raise these errors
without importing Flask.
"""

from __future__ import annotations


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The JSON body of every error answer, written once: Flask's handlers, the raw answers the
    worker writes before Flask runs, and :meth:`OcrError.to_dict` all build it here."""
    return {"error": {"code": code, "message": message}}


class OcrError(Exception):
    """Base of every error the server answers deliberately; the default is an internal error."""

    status: int = 500
    code: str = "internal_error"
    default_message: str = "internal server error"

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        self.message = message or self.default_message
        self.retry_after = retry_after
        super().__init__(self.message)

    def to_dict(self) -> dict[str, dict[str, str]]:
        """The JSON body every error response carries."""
        return error_body(self.code, self.message)


class BadRequest(OcrError):
    status = 400
    code = "bad_request"
    default_message = "the request is malformed"


class MissingImage(BadRequest):
    code = "missing_image"
    default_message = "no image: send multipart field 'image' or a raw body with an image content type"


class EmptyUpload(BadRequest):
    code = "empty_upload"
    default_message = "the uploaded image is empty (0 bytes)"


class PayloadTooLarge(OcrError):
    status = 413
    code = "payload_too_large"
    default_message = "the upload exceeds the size limit"


class TooManyPixels(PayloadTooLarge):
    code = "too_many_pixels"
    default_message = "the image has more pixels than the server accepts"


class TooManyImages(PayloadTooLarge):
    code = "too_many_images"
    default_message = "too many images in one request"


class TooManyPages(PayloadTooLarge):
    code = "too_many_pages"
    default_message = "the document has more pages than the server accepts"


class DocumentTooSlow(PayloadTooLarge):
    """Reading the document would outlast the request's time budget (``limits.requestTimeoutSeconds``)."""

    code = "document_too_slow"
    default_message = "the document takes too long to read in one request; send fewer pages"


class UnsupportedMediaType(OcrError):
    status = 415
    code = "unsupported_media_type"
    default_message = "unsupported image type: send PNG, JPEG, BMP, TIFF or WebP"


class UndecodableImage(OcrError):
    status = 422
    code = "undecodable_image"
    default_message = "the image could not be decoded (truncated or corrupt)"


class UnusableImage(UndecodableImage):
    """Decoded fine, but the recognizer cannot use it (e.g. a line crop with no usable pixels)."""

    code = "unusable_image"
    default_message = "the image cannot be recognised"


class UndecodableDocument(OcrError):
    """A PDF (or multi-page TIFF) that cannot be parsed or rendered within the renderer's limits."""

    status = 422
    code = "undecodable_document"
    default_message = "the document could not be read (corrupt, truncated or too complex)"


class EncryptedDocument(UndecodableDocument):
    code = "encrypted_document"
    default_message = "the PDF is encrypted with a password; send it without the password protection"


class UnknownFormat(BadRequest):
    code = "unknown_format"
    default_message = "unknown output format: use json, text, hocr, alto or pdf"


class UnknownModel(BadRequest):
    """``?model=`` names a model this server has not loaded (or is not NAME / NAME:VERSION)."""

    code = "unknown_model"
    default_message = "the requested model is not loaded by this server"


class Overloaded(OcrError):
    """Every OCR slot of this worker is busy: shed now instead of queueing into a timeout."""

    status = 429
    code = "overloaded"
    default_message = "the server is busy; retry shortly"


class NotReady(OcrError):
    status = 503
    code = "not_ready"
    default_message = "the model is not loaded yet"


class GoldenSetFailed(NotReady):
    """The model loaded but misread its bundle's golden set at start-up (or the set is unreadable):
    this worker stays unready; only another model or bundle fixes it, so no ``Retry-After``."""

    code = "golden_failed"
    default_message = "the model failed its golden-set reading check"


class InjectedFault(OcrError):
    """Test-only: ``OCR_FAULT_INJECTION=errors=...`` made this request fail (see ``ocr_server.faults``)."""

    status = 500
    code = "injected_fault"
    default_message = "fault injected for testing (OCR_FAULT_INJECTION)"


class MalformedRequest(BadRequest):
    """The HTTP framing itself is broken (chunk sizes, Content-Length, request line, headers)."""

    code = "malformed_request"
    default_message = "the HTTP request is malformed"


class BodyTimeout(OcrError):
    """The client did not send its whole body within ``limits.bodyTimeoutSeconds``."""

    status = 408
    code = "body_timeout"
    default_message = "the request body did not arrive in time"


class TooManyScans(UndecodableImage):
    """A progressive JPEG with more scans than any real encoder writes: its decoding cost is
    scans x pixels, so such a file is refused before decoding."""

    code = "too_many_scans"
    default_message = "the JPEG has more scans than the server accepts"


class RequestTimedOut(OcrError):
    """The work of one request ran past ``limits.requestTimeoutSeconds`` and was abandoned."""

    status = 504
    code = "timeout"
    default_message = "the request took too long and was abandoned"


class Unhealthy(OcrError):
    """Liveness: work that should have been abandoned is still running (the worker is wedged)."""

    status = 503
    code = "unhealthy"
    default_message = "the worker is wedged"


# Every concrete error class, for the OpenAPI test and the documentation.
ALL_ERRORS: tuple[type[OcrError], ...] = (
    OcrError,
    BadRequest,
    MissingImage,
    EmptyUpload,
    PayloadTooLarge,
    TooManyPixels,
    TooManyImages,
    TooManyPages,
    DocumentTooSlow,
    UnsupportedMediaType,
    UndecodableImage,
    UnusableImage,
    UndecodableDocument,
    EncryptedDocument,
    UnknownFormat,
    UnknownModel,
    Overloaded,
    NotReady,
    GoldenSetFailed,
    InjectedFault,
    MalformedRequest,
    BodyTimeout,
    TooManyScans,
    RequestTimedOut,
    Unhealthy,
)
