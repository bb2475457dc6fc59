"""``/api/v1/jobs``: submit pages for OCR in the background, poll, cancel.

The routes always exist (the OpenAPI document is the same for every server); with
``jobs.enabled`` false they answer 404 ``jobs_disabled``.  A submission is checked completely
before anything is stored: the per-file checks of ``/api/v1/ocr`` (size, type by magic bytes, and
the pixel and JPEG-scan limits read from the image header), then the job's own limits.  Only then are
the bytes written to Redis and one task per page queued.

Under gunicorn's gevent worker the parts that parse or hash the files (headers, JPEG scan count, the
Idempotency-Key fingerprint) run on the app's offloader (native threads, under the request's
deadline), as ``/api/v1/ocr`` does: a job of many large files must not stall the event loop.  Redis
and the Celery producer are plain socket I/O, which gevent's patched sockets make cooperative.
A job page is one image: PDFs and multi-page TIFFs go to ``/api/v1/ocr``.

``?model=NAME[:VERSION]`` picks any model the server's config loads, by the rule of ``/api/v1/ocr``;
it is resolved here, before the files are read, and the job is pinned to that exact version
(:mod:`.pinning`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from ..api.errors import error_response
from ..api.state import get_state
from ..config import JobsConfig, OcrConfig
from ..deadline import Deadline
from ..documents.tiff import is_multipage_tiff
from ..errors import BadRequest, OcrError, UnsupportedMediaType
from ..imaging.decode import read_size
from ..uploads import Upload, read_uploads
from . import metrics
from .errors import JobsDisabled, JobsUnavailable, JobTooLarge
from .pinning import PinnedModel, resolve
from .store import JobStore, fingerprint

if TYPE_CHECKING:
    from celery import Celery

EXTENSION_KEY = "ocr_jobs"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255
# Multipart framing per file (boundary, part headers) on top of the image bytes themselves.
PART_OVERHEAD_BYTES = 1024

bp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs")


@dataclass(frozen=True)
class JobsState:
    config: OcrConfig
    jobs: JobsConfig
    store: JobStore
    celery: Celery


def init_jobs(app: Flask, config: OcrConfig) -> None:
    """Register the blueprint; with jobs enabled, the store and the Celery producer (both connect
    lazily, so a server whose Redis is down still starts and serves ``/api/v1/ocr``)."""
    if config.jobs_enabled:
        from .celery_app import make_celery, redis_url

        assert config.jobs is not None
        app.extensions[EXTENSION_KEY] = JobsState(
            config=config,
            jobs=config.jobs,
            store=JobStore.from_url(redis_url(config.jobs), config.jobs.result_ttl_seconds),
            celery=make_celery(config),
        )
    app.register_blueprint(bp)


def _state() -> JobsState:
    state: JobsState | None = current_app.extensions.get(EXTENSION_KEY)
    if state is None:
        raise JobsDisabled()
    return state


def max_job_body_bytes(jobs: JobsConfig) -> int:
    """The largest request body a job submission may have: ``jobs.maxBytesPerJob`` plus framing."""
    return jobs.max_bytes_per_job + PART_OVERHEAD_BYTES * (jobs.max_files_per_job + 1)


@bp.before_request
def _job_body_limit() -> None:
    """A job's body may be as large as ``jobs.maxBytesPerJob`` (plus framing), not one upload's limit."""
    state = current_app.extensions.get(EXTENSION_KEY)
    if state is not None and request.method == "POST":
        request.max_content_length = max_job_body_bytes(state.jobs)


@bp.errorhandler(redis.RedisError)
def _redis_down(err: redis.RedisError) -> Response:
    current_app.logger.warning("job store unreachable: %s", err)
    return error_response(JobsUnavailable.status, JobsUnavailable.code, JobsUnavailable.default_message, 5)


def _status_url(job_id: str) -> str:
    return url_for("jobs.get_job", job_id=job_id)


def _answer(view: dict[str, Any], status: int = 200) -> Response:
    response = jsonify({**view, "status_url": _status_url(view["id"])})
    response.status_code = status
    return response


def _check_files(uploads: list[Upload], max_pixels: int, deadline: Deadline) -> None:
    """Each file's header (pixel limit, JPEG scans), without decoding; on a native thread."""
    for upload in uploads:
        deadline.check()
        try:
            img, _w, _h = read_size(upload.data, max_pixels, deadline)  # the header only
        except OcrError as err:
            raise type(err)(f"{upload.name}: {err.message}") from err
        img.close()
        if upload.kind == "tiff" and is_multipage_tiff(upload.data):
            raise UnsupportedMediaType(
                f"{upload.name} is a multi-page TIFF: a job page is one image; "
                "send the document to /api/v1/ocr, or its pages as separate images"
            )


def _read_pages(state: JobsState, idempotency_key: str | None, model: PinnedModel) -> tuple[list[bytes], str | None]:
    """The job's pages after every check, and the fingerprint (pages and model) an
    ``Idempotency-Key`` is bound to."""
    limits, jobs = state.config.limits, state.jobs
    try:
        uploads = read_uploads(request, max_bytes=limits.max_upload_bytes, max_count=jobs.max_files_per_job)
    except RequestEntityTooLarge as err:
        raise JobTooLarge(f"the request body exceeds the job limit of {jobs.max_bytes_per_job} bytes") from err
    total = sum(len(u.data) for u in uploads)
    if total > jobs.max_bytes_per_job:
        raise JobTooLarge(f"the job's images total {total} bytes; the limit is {jobs.max_bytes_per_job}")
    pages = [u.data for u in uploads]
    deadline: Deadline = g.deadline  # read here: the native thread has no request context

    def check() -> str | None:
        _check_files(uploads, limits.max_pixels, deadline)
        return fingerprint(pages, model) if idempotency_key is not None else None

    # off the gevent hub, like /api/v1/ocr's header parsing (inline without gevent)
    fp = get_state().offloader.run(check, deadline, lambda: None)
    return pages, fp


def _enqueue(state: JobsState, job_id: str, pages: int) -> None:
    from .celery_app import PAGE_TASK

    celery = state.celery
    with celery.producer_or_acquire() as producer:
        for index in range(pages):
            celery.send_task(PAGE_TASK, args=[job_id, index], queue=state.jobs.queue, producer=producer)


@bp.post("")
def submit_job() -> Response:
    """Check every file, store the pages, queue one task per page: 202 with the job's URL."""
    state = _state()
    model = resolve(state.config.model, request.args.get("model"))  # 400 unknown_model before any upload is read
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY):
        raise BadRequest(f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    pages, fp = _read_pages(state, key, model)
    g.log_fields = {"images": len(pages), "image_bytes": sum(len(p) for p in pages), "model": str(model)}
    job_id, created = state.store.create(
        pages,
        client=request.remote_addr,
        idempotency_key=key,
        max_jobs_per_client=state.jobs.max_jobs_per_client,
        fp=fp,
        model=model,
    )
    g.log_fields["job"] = job_id
    if created:
        try:
            _enqueue(state, job_id, len(pages))
        except Exception as err:  # broker unreachable: leave no job behind that would stay queued
            state.store.discard(job_id, key)
            raise JobsUnavailable(retry_after=5) from err
        state.store.mark_queued(job_id)
        metrics.JOBS_SUBMITTED.inc()
        metrics.PAGES_SUBMITTED.inc(len(pages))
    view = state.store.get(job_id)
    response = _answer({"id": job_id, "status": view["status"]}, 202)
    response.headers["Location"] = _status_url(job_id)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/<job_id>")
def get_job(job_id: str) -> Response:
    """Status, progress and timings; the per-page results once the job has finished."""
    return _answer(_state().store.get(job_id))


@bp.delete("/<job_id>")
def cancel_job(job_id: str) -> Response:
    """Cancel a queued or running job (409 once it has finished)."""
    return _answer(_state().store.cancel(job_id))
