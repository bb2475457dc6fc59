"""``python -m ocr_server.jobs.worker``: a Celery worker for page tasks, plus its metrics endpoint.

What it adds to a bare ``celery -A ocr_server.jobs.celery_app worker``:

* refuses to start, with one line, on a bad config or a missing model (the default or one of
  ``model.additional``, as the server does), instead of pool processes failing one page after another;
* a prefork pool of ``jobs.workerConcurrency`` processes (0: one per core), each with its share of
  the inference threads, prefetch 1, listening on ``jobs.queue`` only;
* Prometheus multiprocess mode and an HTTP endpoint on ``jobs.metricsPort`` that sums the pool
  processes' counters and reads the queue depth from Redis.

Extra arguments are passed to Celery (``--loglevel debug``, ``--hostname w1@%h``).
"""

from __future__ import annotations

import os
import sys
import tempfile

PROM_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _refuse(message: str) -> None:
    print(f"ocr-worker: refusing to start: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    # Before anything imports prometheus_client: the pool processes inherit this folder.
    if not os.environ.get(PROM_ENV):
        os.environ[PROM_ENV] = tempfile.mkdtemp(prefix="ocr-worker-prometheus-")

    from ..config import ConfigError, load_config
    from ..cpus import available_cpus, threads_per_worker
    from ..recognition.registry import ModelNotFoundError, resolve_model
    from .pinning import configured_models

    try:
        config = load_config()
        if config.jobs is None or not config.jobs.enabled:
            _refuse("jobs.enabled is false in the config: there is nothing for a worker to do")
        for model in configured_models(config.model):
            resolve_model(model.name, model.version, config.model.models_dir)
    except (ConfigError, ModelNotFoundError) as err:
        _refuse(str(err))
    jobs = config.jobs
    assert jobs is not None
    concurrency = jobs.worker_concurrency or available_cpus()
    threads = threads_per_worker(config.recognition.threads, concurrency)
    os.environ["OCR__RECOGNITION__THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if jobs.worker_concurrency == 0:  # the pool processes re-read the config: pin the count they share by
        os.environ["OCR__JOBS__WORKER_CONCURRENCY"] = str(concurrency)

    import redis
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    from .celery_app import app as celery
    from .celery_app import redis_url
    from .metrics import QueueDepthCollector

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(QueueDepthCollector(redis.Redis.from_url(redis_url(jobs), socket_timeout=3), jobs.queue))
    start_http_server(jobs.metrics_port, registry=registry)

    celery.worker_main(
        [
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--prefetch-multiplier=1",
            f"--queues={jobs.queue}",
            f"--loglevel={config.server.log_level}",
            "--without-gossip",
            "--without-mingle",
            *(sys.argv[1:] if argv is None else argv),
        ]
    )


if __name__ == "__main__":
    main()
