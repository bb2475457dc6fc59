"""The application factory: one Flask app per worker, configured from the validated config.

``create_app()`` does no heavy work itself: it wires the blueprints, hooks and error handlers and
starts loading the model in the background (``load_model="background"``), so under gunicorn each
worker loads its own model after the fork.  Tests pass their own config and may load
synchronously or inject a detector.
"""

from __future__ import annotations

import logging
import os
from typing import Literal

from flask import Flask

from .api import ops, v1
from .api.errors import register_error_handlers
from .api.hooks import register_request_hooks
from .api.state import EXTENSION_KEY, AppState
from .budget import Budget
from .config import OcrConfig, load_config
from .faults import ErrorInjector, FaultInjection, fault_injection_from_env
from .framing import JSON_MEDIA_TYPE, GuardedBodyMiddleware
from .jobs.api import init_jobs, max_job_body_bytes
from .limiter import ConcurrencyLimiter
from .logging import configure_logging
from .offload import Offloader
from .service import DetectorFactory, OcrService, RecognizerLoader
from .uploads import InMemoryRequest
from .web import bp as web_bp

# Room for multipart framing (boundaries, part headers) above the image bytes themselves, so an
# image of exactly maxUploadBytes still fits; each image is then checked against the limit itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024

# Request-body bytes one worker holds at once (received, being parsed or being read): room for
# several full-size uploads at the same time; above it a request is shed with 429.  Werkzeug and
# the views keep up to about 3 copies of a body, so this bounds ~3x as much memory.
UPLOAD_BUDGET_UPLOADS = 8
UPLOAD_BUDGET_MIN_BYTES = 32 * 1024 * 1024

LoadMode = Literal["background", "sync", "none"]

log = logging.getLogger("ocr_server.app")


def upload_budget_bytes(config: OcrConfig) -> int:
    """The worker's buffered-upload budget for ``config``: ``8 x (maxUploadBytes + framing)``, at least
    32 MiB; with batch jobs enabled, at least one largest job body plus one upload (else a job above
    the budget could never be accepted: it would be shed with 429 every time)."""
    per_upload = config.limits.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
    budget = max(UPLOAD_BUDGET_MIN_BYTES, UPLOAD_BUDGET_UPLOADS * per_upload)
    if config.jobs_enabled:
        assert config.jobs is not None
        budget = max(budget, max_job_body_bytes(config.jobs) + per_upload)
    return budget


def create_app(
    config: OcrConfig | None = None,
    *,
    load_model: LoadMode = "background",
    detector_factory: DetectorFactory | None = None,
    recognizer_loader: RecognizerLoader | None = None,
    faults: FaultInjection | None = None,
) -> Flask:
    """Build the app.  ``config`` defaults to :func:`load_config` (``$OCR_CONFIG`` + env overrides).

    ``detector_factory``/``recognizer_loader`` replace how the detector and the model are made
    (tests, experiments); by default the configured detector and the model bundle are loaded.
    ``faults`` defaults to ``$OCR_FAULT_INJECTION`` (test-only; a bad value raises ``ConfigError``)."""
    config = config or load_config()
    faults = faults if faults is not None else fault_injection_from_env(os.environ)
    configure_logging(config.server.log_level)
    if faults.active:
        log.warning(
            "fault injection is on (OCR_FAULT_INJECTION, test only): this worker misbehaves on purpose",
            extra={"fields": {"fault_injection": faults.to_json()}},
        )

    app = Flask(__name__, static_folder=None)  # the web blueprint serves its own static files
    app.request_class = InMemoryRequest
    app.config.update(
        MAX_CONTENT_LENGTH=config.limits.max_upload_bytes + MULTIPART_OVERHEAD_BYTES,
        OCR_MAX_UPLOAD_BYTES=config.limits.max_upload_bytes,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # Real characters, not \uXXXX escapes: a Chinese answer stays readable in logs and curl, and a
    # third smaller (3 bytes a character instead of 6); the charset is said outright for clients
    # that would otherwise guess from the bytes (RFC 8259 makes UTF-8 the only JSON encoding anyway).
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.mimetype = JSON_MEDIA_TYPE  # type: ignore[attr-defined]

    overrides = {"detector_factory": detector_factory, "recognizer_loader": recognizer_loader}
    service = OcrService(config, faults=faults, **{k: v for k, v in overrides.items() if v is not None})
    limits = config.limits
    upload_budget = Budget(upload_budget_bytes(config), "buffered upload bytes")
    app.extensions[EXTENSION_KEY] = AppState(
        config=config,
        service=service,
        limiter=ConcurrencyLimiter(limits.max_concurrent_requests),
        pixels=Budget(limits.max_worker_pixels, "decoded pixels"),
        uploads=upload_budget,
        offloader=Offloader(limits.max_concurrent_requests),
        faults=faults,
        error_injector=ErrorInjector(faults.error_fraction),
    )
    app.wsgi_app = GuardedBodyMiddleware(app.wsgi_app, limits.body_timeout_seconds, upload_budget)  # type: ignore[method-assign]
    register_error_handlers(app)
    register_request_hooks(app)
    app.register_blueprint(ops.bp)
    app.register_blueprint(v1.bp)
    init_jobs(app, config)
    app.register_blueprint(web_bp)

    if load_model == "background":
        service.start_loading()
    elif load_model == "sync":
        service.load()
    return app
