"""The gunicorn worker class: gevent, with gunicorn's own errors answered in the JSON shape.

Why gevent (``gunicorn.conf.py`` names this class): every connection is a greenlet, so clients
that send their headers or body slowly, or never, hold nothing but a few kilobytes while they
wait out their read deadline; ``/health``, ``/ready`` and fast requests keep being answered
beside them.  CPU work runs on native threads (:mod:`ocr_server.offload`), so the hub is free.

gunicorn answers the requests it cannot parse itself (bad request line or ``Content-Length``, 414,
431) in plain text before the app sees them; :meth:`OcrGeventWorker.handle_error` answers them
with ``{"error": {"code", "message"}}`` instead, logs one warning line without a traceback and
counts them in ``ocr_http_requests_total`` (endpoint ``unparsed``, method ``other``).

The master imports this module to find the class: it imports only gunicorn and gevent here;
the app's modules are imported lazily, in the worker.
"""

from __future__ import annotations

import gunicorn.http.wsgi
from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

# gunicorn puts "Server: gunicorn" on every response; a neutral name tells a scanner nothing.
gunicorn.http.wsgi.SERVER = "ocr-server"  # type: ignore[attr-defined]


class OcrGeventWorker(GeventWorker):
    """gunicorn's gevent worker whose parse-error answers are JSON and counted."""

    def handle_error(self, req, client, addr, exc):  # type: ignore[no-untyped-def]
        from . import metrics
        from .framing import classify_protocol_error, error_response_bytes

        status, code, message = classify_protocol_error(exc)
        if status >= 500 and code == "internal_error":
            self.log.exception("error outside the application")
        else:
            peer = addr[0] if isinstance(addr, tuple) and addr else ""
            self.log.warning("invalid request from %s: %s (%s)", peer, code, type(exc).__name__)
        try:
            metrics.REQUESTS.labels(endpoint="unparsed", method="other", status=str(status)).inc()
        except Exception:  # metrics must never turn a 400 into a crash
            self.log.debug("could not count a protocol error", exc_info=True)
        try:
            client.sendall(error_response_bytes(status, code, message))
            # half-close and drain what the client still sends, so the kernel does not answer
            # its unread bytes with a reset that destroys our response (RFC 9112 section 9.6)
            util.close_graceful(client, timeout=1.0)
        except Exception:
            self.log.debug("failed to send the error response")
