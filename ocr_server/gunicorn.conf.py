"""gunicorn settings for the OCR server, all derived from the one validated config file.

Run:  gunicorn -c ocr_server/gunicorn.conf.py ocr_server.wsgi:app
(command-line flags such as ``--bind`` or ``--workers`` still override what is set here.)

Why each choice:

* The config is validated here, in the master, before any worker forks: a bad value or a missing
  model stops the server with one readable line and a non-zero exit, not a traceback per worker.
* ``preload_app = False``: every worker imports the app and loads its own model *after* the fork,
  so no ONNX Runtime or OpenCV thread pool is forked half-initialised.  The master imports only
  pydantic/PyYAML and the standard library.
* CPU-bound inference: ``workers × inference threads ≤ cores``.  ``post_fork`` gives each worker
  its share (``recognition.threads``, or cores ÷ workers when that is 0) before the model loads.
* gevent workers (``ocr_server.worker.OcrGeventWorker``), not threads: a thread per connection
  lets a handful of clients that send their body slowly (or never) occupy every thread, probes
  included.  A greenlet per connection costs kilobytes, so slow clients only wait out their own
  deadlines: headers within ``limits.headerTimeoutSeconds`` (gunicorn's ``keepalive``, which the
  gevent worker applies to every header read), the body within ``limits.bodyTimeoutSeconds``
  (:mod:`ocr_server.framing`).  The OCR work itself runs on ``limits.maxConcurrentRequests``
  native threads (:mod:`ocr_server.offload`), so the hub keeps answering ``/health`` and 429s.
  ``worker_connections`` and the header-size limits bound what idle connections can hold.
* ``timeout`` is the hub's heartbeat: a worker whose event loop has not run for that long is
  wedged (something holds the GIL), and the master kills and replaces it.  Request deadlines are
  the app's job (``limits.requestTimeoutSeconds``).
* No control socket: its default path (``~/.gunicorn/gunicorn.ctl``) is shared by every gunicorn
  on the machine, so one server's exit removed another's; we do not use ``gunicornc``.
* Prometheus multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` is set before any worker starts
  (a fresh temporary folder unless the environment names one), emptied at start, and each exited
  worker is marked dead so its live gauges disappear.
* Graceful shutdown: on SIGTERM workers stop accepting and finish in-flight requests for up to
  ``graceful_timeout`` seconds (Kubernetes' default grace period is 30 s).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from ocr_server.config import ConfigError, load_config
from ocr_server.cpus import available_cpus, threads_per_worker
from ocr_server.faults import fault_injection_from_env
from ocr_server.recognition.registry import ModelNotFoundError, resolve_model


def _refuse(message: str) -> None:
    """Stop start-up with one line on stderr; SystemExit passes through gunicorn's config loader."""
    print(f"ocr-server: refusing to start: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


try:
    _cfg = load_config()
    resolve_model(_cfg.model.name, _cfg.model.version, _cfg.model.models_dir)
    _faults = fault_injection_from_env(os.environ)  # test-only switch: a typo must not go unnoticed
except (ConfigError, ModelNotFoundError) as _err:
    _refuse(str(_err))

# --- Prometheus multiprocess folder: must exist before any process imports prometheus_client ---
_PROM_ENV = "PROMETHEUS_MULTIPROC_DIR"
_own_prom_dir = not os.environ.get(_PROM_ENV)
if _own_prom_dir:
    os.environ[_PROM_ENV] = tempfile.mkdtemp(prefix="ocr-prometheus-")
_prom_dir = Path(os.environ[_PROM_ENV])

# --- server socket and workers ---
bind = [f"0.0.0.0:{_cfg.server.port}"]
workers = _cfg.server.workers
worker_class = "ocr_server.worker.OcrGeventWorker"
# Open connections per worker.  With the header limits below, idle or slow connections can hold
# at most about 256 x 40 x 8 KB = 80 MB of headers; bodies are bounded by the upload budget.
worker_connections = 256
limit_request_line = 4094
limit_request_fields = 40
limit_request_field_size = 8190
preload_app = False
timeout = 30  # hub heartbeat, see above
graceful_timeout = 30
keepalive = _cfg.limits.header_timeout_seconds
control_socket_disable = True
# Heartbeat files in memory, not on a possibly slow or read-only container disk.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# --- logging: JSON lines on stdout, like the app's own; the app writes the access log itself ---
loglevel = _cfg.server.log_level
accesslog = None
_LOG_LEVEL = _cfg.server.log_level.upper()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "ocr_server.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
    },
    "loggers": {
        "gunicorn.error": {"level": _LOG_LEVEL, "handlers": ["console"], "propagate": False},
        # the app writes its own access line (with request id and stage timings): silence gunicorn's
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
    },
    "root": {"level": _LOG_LEVEL, "handlers": ["console"]},
}


def on_starting(server) -> None:  # type: ignore[no-untyped-def]
    """Empty the metrics folder (stale files from an earlier run would be summed in) and say
    how the CPU is shared."""
    _prom_dir.mkdir(parents=True, exist_ok=True)
    for stale in _prom_dir.glob("*.db"):
        stale.unlink()
    cores = available_cpus()
    per_worker = threads_per_worker(_cfg.recognition.threads, server.cfg.workers)
    server.log.info(
        "ocr-server starting: model %s-%s, %d worker(s) x %d inference thread(s) on %d core(s), "
        "%d OCR slot(s) per worker, metrics in %s",
        _cfg.model.name,
        _cfg.model.version,
        server.cfg.workers,
        per_worker,
        cores,
        _cfg.limits.max_concurrent_requests,
        _prom_dir,
    )
    if server.cfg.workers * per_worker > cores:
        server.log.warning(
            "workers x inference threads (%d x %d) exceeds the %d available cores: expect contention",
            server.cfg.workers,
            per_worker,
            cores,
        )


def post_fork(server, worker) -> None:  # type: ignore[no-untyped-def]
    """Before the worker imports the app: pin its inference threads to its share of the cores.

    Written as the config's own env override, so the worker's config (and ``/api/v1/info``) show
    the effective number."""
    share = threads_per_worker(_cfg.recognition.threads, server.cfg.workers)
    os.environ["OCR__RECOGNITION__THREADS"] = str(share)
    os.environ["OMP_NUM_THREADS"] = str(share)


def child_exit(server, worker) -> None:  # type: ignore[no-untyped-def]
    """Drop the exited worker's live gauges (in-flight, model info, readiness)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:  # type: ignore[no-untyped-def]
    """Remove the metrics folder we created (never one the environment supplied)."""
    if _own_prom_dir:
        shutil.rmtree(_prom_dir, ignore_errors=True)
