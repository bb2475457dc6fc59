"""Broken HTTP framing and slow bodies become JSON errors, never a 500 or a stalled greenlet.

Two places see a request's raw framing:

* gunicorn's parser, before the app runs (bad request line, bad ``Content-Length``, header limits):
  :func:`classify_protocol_error` names the status and our error code for each of its exceptions,
  and :mod:`ocr_server.worker` answers with the JSON shape.
* the body, read while the app runs (chunked encoding is decoded lazily, so a bad chunk size or a
  missing CRLF surfaces inside the app's ``request.files``): :class:`GuardedInput` wraps
  ``wsgi.input`` so any parser error becomes :class:`~ocr_server.errors.MalformedRequest` (400),
  and a body that does not arrive within ``limits.bodyTimeoutSeconds`` becomes
  :class:`~ocr_server.errors.BodyTimeout` (408).  Under gevent the wait for each read is cut at
  the body's deadline; without gevent only the total is checked between reads.

Imports no gunicorn at module level (the Flask dev server and the tests run without it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from .budget import Budget
from .errors import BodyTimeout, MalformedRequest, OcrError, error_body
from .offload import gevent_active

# Response headers every answer carries, the app's and the worker's own error answers alike.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


class GuardedInput:
    """A ``wsgi.input`` whose reads fail as 400/408 JSON errors instead of 500s or endless waits."""

    def __init__(self, stream: IO[bytes], timeout_s: float, budget: Budget | None = None) -> None:
        self._stream = stream
        self._timeout_s = timeout_s
        self._expires_at = time.monotonic() + timeout_s
        self._gevent = gevent_active()
        self._budget = budget
        self.taken = 0  # bytes of the worker's upload budget this body holds

    def _guard(self, read: Callable[..., Any], *args: Any) -> Any:
        data = self._read(read, *args)
        if self._budget is not None and data:
            self._budget.take(len(data))  # 429 when the worker holds too many body bytes already
            self.taken += len(data)
        return data

    def _read(self, read: Callable[..., Any], *args: Any) -> Any:
        remaining = self._expires_at - time.monotonic()
        if remaining <= 0:
            raise BodyTimeout(f"the request body did not arrive within {self._timeout_s:g} s")
        try:
            if self._gevent:
                import gevent

                with gevent.Timeout(remaining, False):
                    return read(*args)
                raise BodyTimeout(f"the request body did not arrive within {self._timeout_s:g} s")
            return read(*args)
        except OcrError:
            raise
        except Exception as err:  # gunicorn's InvalidChunkSize, ChunkMissingTerminator, NoMoreData, ...
            raise MalformedRequest(_body_message(err)) from None

    def release(self) -> None:
        """Give this body's bytes back to the worker's upload budget (the request has ended)."""
        if self._budget is not None and self.taken:
            self._budget.give(self.taken)
            self.taken = 0

    def read(self, size: int = -1) -> bytes:
        return self._guard(self._stream.read, size)  # type: ignore[no-any-return]

    def readline(self, size: int = -1) -> bytes:
        return self._guard(self._stream.readline, size)  # type: ignore[no-any-return]

    def readlines(self, hint: int = -1) -> list[bytes]:
        return self._guard(self._stream.readlines, hint)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


def _body_message(err: Exception) -> str:
    """Our wording for a body error (gunicorn's messages quote the client's bytes back)."""
    name = type(err).__name__
    if name in ("NoMoreData", "ConnectionResetError", "BrokenPipeError"):
        return "the request body ended before its announced length"
    if name in ("InvalidChunkSize", "ChunkMissingTerminator", "InvalidChunkExtension"):
        return "the chunked request body is malformed"
    return "the request body is malformed"


class GuardedBodyMiddleware:
    """WSGI middleware installing :class:`GuardedInput` on every request.

    The body's bytes count against ``budget`` (the worker's buffered-upload budget) from the
    moment they are read until the app has answered: Flask has dropped the request by then."""

    def __init__(self, app: Callable[..., Iterable[bytes]], body_timeout_s: float, budget: Budget | None) -> None:
        self.app = app
        self.body_timeout_s = body_timeout_s
        self.budget = budget

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        stream = environ.get("wsgi.input")
        if stream is None:
            return self.app(environ, start_response)
        guarded = GuardedInput(stream, self.body_timeout_s, self.budget)
        environ["wsgi.input"] = guarded
        try:
            return self.app(environ, start_response)
        finally:
            guarded.release()


# --------------------------------------------------------------------------- gunicorn's own errors

# gunicorn exception class name -> (status, our code, our message).  By name, so this table is
# usable (and testable) without importing gunicorn; anything not listed is a plain 400.
_PROTOCOL_ERRORS: dict[str, tuple[int, str, str]] = {
    "LimitRequestLine": (414, "uri_too_long", "the request line is too long"),
    "LimitRequestHeaders": (431, "headers_too_large", "the request headers are too many or too large"),
    "InvalidRequestLine": (400, "malformed_request", "the request line is malformed"),
    "InvalidRequestMethod": (400, "malformed_request", "the request method is invalid"),
    "InvalidHTTPVersion": (400, "malformed_request", "the HTTP version is invalid or unsupported"),
    "InvalidHeader": (400, "malformed_request", "a request header is invalid (e.g. a bad Content-Length)"),
    "InvalidHeaderName": (400, "malformed_request", "a request header name is invalid"),
    "ObsoleteFolding": (400, "malformed_request", "folded request headers are not accepted"),
    "UnsupportedTransferCoding": (501, "not_implemented", "the transfer coding is not supported"),
    "ExpectationFailed": (417, "expectation_failed", "the Expect header cannot be met"),
    "InvalidChunkSize": (400, "malformed_request", "the chunked request body is malformed"),
    "ChunkMissingTerminator": (400, "malformed_request", "the chunked request body is malformed"),
    "InvalidChunkExtension": (400, "malformed_request", "the chunked request body is malformed"),
    "InvalidProxyLine": (400, "malformed_request", "the PROXY protocol line is malformed"),
    "ForbiddenProxyRequest": (403, "forbidden", "the request is forbidden"),
    "InvalidSchemeHeaders": (400, "malformed_request", "the request's scheme headers contradict each other"),
}
REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    408: "Request Timeout",
    414: "URI Too Long",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
}


def classify_protocol_error(exc: BaseException) -> tuple[int, str, str]:
    """``(status, code, message)`` for an exception gunicorn raised while parsing a request.

    gunicorn's ``ParseException`` family is a client error (4xx; 501 for an unknown transfer
    coding, which RFC 9112 asks for); anything else reaching the worker's error handler is ours (500)."""
    for cls in type(exc).__mro__:
        if cls.__name__ in _PROTOCOL_ERRORS:
            return _PROTOCOL_ERRORS[cls.__name__]
    if any(cls.__name__ == "ParseException" for cls in type(exc).__mro__):
        return MalformedRequest.status, MalformedRequest.code, MalformedRequest.default_message
    return OcrError.status, OcrError.code, OcrError.default_message


# Every JSON body the server writes (Flask's and these raw ones) is UTF-8 and says so.
JSON_MEDIA_TYPE = "application/json; charset=utf-8"


def error_response_bytes(status: int, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 error response with the JSON body, closing the connection."""
    body = json.dumps(error_body(code, message)).encode()
    head = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
        "Connection: close",
        f"Content-Type: {JSON_MEDIA_TYPE}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in SECURITY_HEADERS),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
