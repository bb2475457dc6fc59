"""PURE: the jobs side of the server config (``jobs`` section, Redis URL, password env), shared by the
ConfigMap, the server Deployment and the worker Deployment builders."""

from __future__ import annotations

from typing import Any

from ocr_operator.builders.meta import Owner
from ocr_operator.builders.redis import REDIS_PORT, redis_host
from ocr_operator.spec import OcrServiceSpec
from ocr_server.config import JobsConfig

METRICS_PORT = 9100
PASSWORD_ENV = "OCR_REDIS_PASSWORD"  # ocr_server.jobs.celery_app.PASSWORD_ENV (not imported: no Celery here)


def redis_url(owner: Owner, spec: OcrServiceSpec) -> str:
    """The configured Redis, or the operator-run one's Service."""
    if spec.jobs.redis.url:
        return spec.jobs.redis.url
    return f"redis://{redis_host(owner)}:{REDIS_PORT}/0"


def build_jobs_config(owner: Owner, spec: OcrServiceSpec) -> JobsConfig | None:
    """The server config's ``jobs`` section (``None`` when disabled: the ConfigMap stays as before)."""
    jobs = spec.jobs
    if not jobs.enabled:
        return None
    return JobsConfig(
        enabled=True,
        redis_url=redis_url(owner, spec),
        result_ttl_seconds=jobs.result_ttl_seconds,
        max_files_per_job=jobs.max_files_per_job,
        max_bytes_per_job=jobs.max_bytes_per_job,
        model_wait_seconds=jobs.model_wait_seconds,
        worker_concurrency=jobs.workers.concurrency,
        metrics_port=METRICS_PORT,
    )


def jobs_env(spec: OcrServiceSpec) -> list[dict[str, Any]]:
    """``OCR_REDIS_PASSWORD`` from the Secret, for server and worker pods (empty without one)."""
    ref = spec.jobs.redis.password_secret_ref
    if not (spec.jobs.enabled and ref is not None):
        return []
    return [{"name": PASSWORD_ENV, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}]
