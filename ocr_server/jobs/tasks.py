"""The page task: one uploaded page through the very ``OcrPipeline`` that ``/api/v1/ocr`` runs.

The models load once per worker process (``worker_process_init``, after the prefork): the default
and ``model.additional``, through the server's own ``OcrService``; then every page of every job
reuses them.  Each page reads with the model its job was pinned to at submission (a record from
before models were pinned: the default).  Outcomes:

* bad input (the pipeline's ``OcrError``: undecodable, too many pixels, …): recorded as the page's
  error; no retry, since the same bytes fail the same way; the job ends ``failed``;
* Redis unreachable: retried with exponential backoff (``autoretry_for``);
* the model not loaded yet: handed back to the queue (another worker may take it), until
  ``jobs.modelWaitSeconds`` after submission; then recorded as ``not_ready``;
* the job's pinned model not among this worker's configured models (a roll-out changing the model):
  loaded on demand when its bundle is installed (:mod:`.on_demand`), golden set checked; when it is
  not installed either (workers configured unlike the API server), held 2 s and put back in the
  queue for another worker, until ``jobs.modelWaitSeconds`` after submission; then recorded as
  ``model_unavailable``, naming both.  Never read with another model.  A hand-back is not an
  attempt (``JobStore.hand_back``);
* over the soft time limit (``jobs.taskTimeLimitSeconds`` - 5 s): recorded as ``page_timeout``;
* a page that already stopped a worker ``MAX_PAGE_ATTEMPTS`` times (killed mid-page, e.g. out of
  memory, and re-queued each time by ``reject_on_worker_lost``) is recorded as ``worker_lost``
  instead of being run again: a poison page must not take the worker pool down in a loop;
* anything else is a bug: recorded as ``internal_error`` without details, logged with traceback.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init

from ..config import OcrConfig, load_config
from ..errors import NotReady, OcrError
from ..service import LoadedModel, OcrService
from . import metrics
from .celery_app import PAGE_TASK, redis_url
from .errors import ModelUnavailable
from .on_demand import OnDemandModels
from .pinning import PinnedModel, hand_back_delay
from .store import JobStore

log = logging.getLogger("ocr_server.jobs")

MAX_PAGE_ATTEMPTS = 3

_lock = threading.Lock()
_service: OcrService | None = None
_store: JobStore | None = None
_on_demand = OnDemandModels()


def worker_config() -> OcrConfig:
    """The worker's config: ``$OCR_CONFIG``, with inference threads shared among the pool processes."""
    config = load_config()
    if config.jobs is None:
        raise RuntimeError("the worker needs a jobs section in its config")
    config.server.workers = max(1, config.jobs.worker_concurrency)  # threads = cores / pool processes
    return config


def _ensure_loaded() -> tuple[OcrService, JobStore]:
    global _service, _store
    with _lock:
        if _service is None or _store is None:
            config = worker_config()
            assert config.jobs is not None
            service = OcrService(config)
            service.load()
            _service = service
            _store = JobStore.from_url(redis_url(config.jobs), config.jobs.result_ttl_seconds)
        return _service, _store


@worker_process_init.connect
def _load_model(**_: Any) -> None:
    """Load and warm the models in each pool process as it starts, not on its first page."""
    _ensure_loaded()


def _chosen(service: OcrService, pinned: PinnedModel | None) -> LoadedModel:
    """The model the job is pinned to: configured, or installed and loaded on demand
    (:mod:`.on_demand`).  ``select()`` first: it raises ``NotReady`` while loading (retried) and
    ``GoldenSetFailed`` after a failed reading check, as ``/api/v1/ocr`` does."""
    service.select()
    return _on_demand.pick(service, pinned)


def _run(service: OcrService, data: bytes, pinned: PinnedModel | None) -> dict[str, Any]:
    chosen = _chosen(service, pinned)
    result = chosen.pipeline.read_page(data)
    info = chosen.info  # the model actually used, not the one asked for
    return {
        "status": "succeeded",
        "result": {
            "text": result.text,
            "lines": [
                {"text": ln.text, "confidence": ln.confidence, "box": list(ln.box), "block": ln.block}
                for ln in result.lines
            ],
            "image": {"width": result.width, "height": result.height},
            "model": {"name": info.name, "version": info.version},
            "timings_ms": result.timings_ms,
        },
    }


@shared_task(
    name=PAGE_TASK,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(redis.ConnectionError, redis.TimeoutError),
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=8,
)
def ocr_page(self: Task, job_id: str, index: int) -> None:
    """OCR page ``index`` of job ``job_id`` and record the outcome in the job store."""
    service, store = _ensure_loaded()
    work = store.begin_page(job_id, index)
    if work.skip in ("gone", "cancelled", "done"):
        metrics.TASKS_FINISHED.labels(outcome="skipped").inc()
        return
    metrics.TASKS_STARTED.inc()
    t0 = time.perf_counter()
    outcome: dict[str, Any]
    if work.attempt > MAX_PAGE_ATTEMPTS:
        outcome = {
            "status": "failed",
            "error": {
                "code": "worker_lost",
                "message": f"the page stopped a worker {MAX_PAGE_ATTEMPTS} times (out of memory?); not run again",
            },
        }
    elif work.data is None:
        outcome = {
            "status": "failed",
            "error": {"code": "page_data_lost", "message": "the page's bytes are no longer in the job store"},
        }
    else:
        budget = service.config.jobs.model_wait_seconds if service.config.jobs else 0
        try:
            outcome = _run(service, work.data, work.model)
        except NotReady as err:
            # still loading (or a load that failed: /ready says so): another worker may take it, within
            # the same bound as a missing model, so a fleet that never loads ends the page clearly
            if hand_back_delay(work.waited, budget) is not None:
                metrics.TASKS_FINISHED.labels(outcome="retried").inc()
                store.hand_back(job_id, index)
                raise self.retry(exc=err, countdown=5, max_retries=None) from err
            outcome = {"status": "failed", "error": {"code": err.code, "message": err.message}}
        except ModelUnavailable as err:
            delay = hand_back_delay(work.waited, budget)
            if delay is not None:
                metrics.TASKS_FINISHED.labels(outcome="handed_back").inc()
                store.hand_back(job_id, index)
                log.info(
                    "page handed back: this worker lacks the job's model",
                    extra={
                        "fields": {
                            "job": job_id,
                            "page": index,
                            "model": str(work.model),
                            "waited_s": round(work.waited, 1),
                        }
                    },
                )
                time.sleep(delay)  # see HAND_BACK_SECONDS: held here, then queued with no countdown
                raise self.retry(exc=err, countdown=0, max_retries=None) from err
            outcome = {
                "status": "failed",
                "error": {
                    "code": err.code,
                    "message": f"{err.message} (waited {work.waited:.0f} s for a worker that does)",
                },
            }
        except OcrError as err:
            outcome = {"status": "failed", "error": {"code": err.code, "message": err.message}}
        except SoftTimeLimitExceeded:
            outcome = {"status": "failed", "error": {"code": "page_timeout", "message": "the page took too long"}}
        except Exception:
            log.exception("page task failed", extra={"fields": {"job": job_id, "page": index}})
            outcome = {"status": "failed", "error": {"code": OcrError.code, "message": OcrError.default_message}}
    recorded = store.record_page(job_id, index, outcome)
    metrics.TASK_SECONDS.observe(time.perf_counter() - t0)
    metrics.TASKS_FINISHED.labels(outcome=outcome["status"]).inc()
    log.info(
        "page done",
        extra={
            "fields": {
                "job": job_id,
                "page": index,
                "status": outcome["status"],
                "attempt": work.attempt,
                "model": str(work.model) if work.model else None,
                "recorded": recorded,
                "ms": round((time.perf_counter() - t0) * 1000.0, 1),
            }
        },
    )
