"""The Celery application: broker and result backend on the jobs Redis, settings for CPU-bound pages.

``celery -A ocr_server.jobs.celery_app worker`` works (the module-level ``app`` is built from
``$OCR_CONFIG`` on first use); ``python -m ocr_server.jobs.worker`` is the supported entry point
(it also starts the worker's metrics endpoint and derives the pool size from the config).

Why each setting:

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a page is acknowledged only once it is done;
  a pool process killed mid-page (OOM, SIGKILL) puts the message straight back on the queue, and
  a whole worker killed leaves it unacknowledged, to be re-delivered after
  ``jobs.visibilityTimeoutSeconds`` (kombu's Redis transport).  The job store's ``HSETNX`` makes
  a page that ran twice count once.
* ``worker_prefetch_multiplier = 1``: a page costs ~0.2 s of a full core; a worker holding more
  than it runs would starve its idle peers and stretch re-delivery after a crash.
* ``task_ignore_result``: page results go to the job record (``store``), which also carries
  progress, cancellation and idempotency; a Celery result per page would only duplicate them.
* ``worker_cancel_long_running_tasks_on_connection_loss``: after a broker connection loss the
  message is re-delivered anyway; cancelling the running copy saves the CPU.
* JSON only: task arguments are a job id and a page index, never pickles from the network.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

from ..config import JobsConfig, OcrConfig, load_config
from .store import redis_url_with_password

PASSWORD_ENV = "OCR_REDIS_PASSWORD"
PAGE_TASK = "ocr_server.jobs.page"


def redis_url(jobs: JobsConfig) -> str:
    """``jobs.redisUrl`` with ``$OCR_REDIS_PASSWORD`` (from a Secret) put in."""
    return redis_url_with_password(jobs.redis_url, os.environ.get(PASSWORD_ENV))


def broker_transport_options(jobs: JobsConfig) -> dict[str, Any]:
    """kombu's Redis transport: re-deliver a dead worker's page after the visibility timeout.

    kombu sweeps for expired unacknowledged messages every ``unacked_restore_interval`` seconds but
    by default scans only on every 10th sweep (about 100 s); scanning on every sweep, every quarter
    of the visibility timeout (at most 10 s), brings a page back soon after the timeout."""
    return {
        "visibility_timeout": jobs.visibility_timeout_seconds,
        "unacked_restore_interval": max(1, min(10, jobs.visibility_timeout_seconds // 4)),
        "unacked_restore_throttle": 1,
        # a Redis that vanishes without closing the connection (a node gone) must not hang a publish
        "socket_timeout": 30,
        "socket_connect_timeout": 5,
    }


def celery_settings(jobs: JobsConfig) -> dict[str, Any]:
    url = redis_url(jobs)
    return {
        "broker_url": url,
        "result_backend": url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": broker_transport_options(jobs),
        "result_backend_transport_options": {"visibility_timeout": jobs.visibility_timeout_seconds},
        "task_default_queue": jobs.queue,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_ignore_result": True,
        "task_time_limit": jobs.task_time_limit_seconds,
        "task_soft_time_limit": max(1, jobs.task_time_limit_seconds - 5),
        "worker_prefetch_multiplier": 1,
        # A pool process loads the model, warms it and reads its golden set in worker_process_init
        # before it reports up; Celery's default 4 s wait for that killed and respawned processes in
        # a loop on a busy node (load 10 on 2 cores: 2-5 s).  A process that really hangs there is
        # still replaced, a minute later.
        "worker_proc_alive_timeout": 60,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_hijack_root_logger": False,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
    }


def make_celery(config: OcrConfig) -> Celery:
    """A Celery app for ``config`` (the jobs section must be present)."""
    if config.jobs is None:
        raise ValueError("the config has no jobs section")
    celery = Celery("ocr_server.jobs")
    celery.conf.update(celery_settings(config.jobs))
    celery.conf.ocr_config = config
    return celery


def _default_app() -> Celery:
    config = load_config()
    if config.jobs is None:  # `celery -A` with no jobs section: run with the defaults
        config = config.model_copy(update={"jobs": JobsConfig(enabled=True)})
    celery = make_celery(config)
    celery.conf.imports = ("ocr_server.jobs.tasks",)
    return celery


def __getattr__(name: str) -> Celery:
    """``app`` is built on first access (``celery -A ocr_server.jobs.celery_app``), not on import:
    the server imports this module with its own config and must not read ``$OCR_CONFIG`` here."""
    if name in ("app", "celery"):
        global app
        app = _default_app()
        return app
    raise AttributeError(name)
