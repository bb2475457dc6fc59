"""Worker-side Prometheus metrics: tasks started/succeeded/failed, page latency, queue depth.

Counters are incremented in the Celery pool processes; with ``PROMETHEUS_MULTIPROC_DIR`` set (the
worker entry point sets it before any fork) the worker's endpoint sums them over processes, as the
server's ``/metrics`` does over gunicorn workers.  Queue depth is read from Redis at scrape time
(``LLEN`` of the queue list, the number KEDA scales on), so it is never stale.
"""

from __future__ import annotations

from collections.abc import Iterator

import redis
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

MODELS_LOADED_ON_DEMAND = Counter(
    "ocr_job_models_loaded_on_demand_total",
    "Installed bundles a worker process loaded for a job pinned to a model its config does not name "
    "(a roll-out between model versions), by model.",
    ["model"],
)
TASKS_STARTED = Counter("ocr_job_tasks_started_total", "Page tasks a worker started (re-deliveries included).")
TASKS_FINISHED = Counter(
    "ocr_job_tasks_finished_total",
    "Page tasks that ended, by outcome: succeeded, failed (bad input: no retry), retried "
    "(transient error), handed_back (this worker lacks the job's model; another may load it), "
    "skipped (job cancelled, expired or page already done).",
    ["outcome"],
)
TASK_SECONDS = Histogram(
    "ocr_job_task_duration_seconds",
    "Wall time of one page task in a worker.",
    buckets=(0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0),
)
JOBS_SUBMITTED = Counter("ocr_jobs_submitted_total", "Jobs accepted by POST /api/v1/jobs (replays not counted).")
PAGES_SUBMITTED = Counter("ocr_job_pages_submitted_total", "Pages queued by POST /api/v1/jobs.")


class QueueDepthCollector(Collector):
    """``ocr_jobs_queue_depth``: page tasks waiting in the Redis list; ``ocr_jobs_unacked``: taken by a
    worker and not yet acknowledged (running, or held by a worker that died)."""

    def __init__(self, client: redis.Redis, queue: str) -> None:
        self.client = client
        self.queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("ocr_jobs_queue_depth", "Page tasks waiting in the queue.", labels=["queue"])
        unacked = GaugeMetricFamily("ocr_jobs_unacked", "Page tasks delivered to workers, not acknowledged yet.")
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.llen(self.queue)
            pipe.hlen("unacked")
            waiting, held = pipe.execute()
        except redis.RedisError:
            return  # Redis unreachable: no sample beats a wrong one
        depth.add_metric([self.queue], waiting)
        unacked.add_metric([], held)
        yield depth
        yield unacked
