"""PURE: OcrService spec → the Celery worker Deployment, its jobs config and its HPA fallback.

The workers run the server's image with ``python3 -m ocr_server.jobs.worker``, mount the same
ConfigMap (so they load the same model with the same thresholds; a config change rolls both) and
get the Redis password, if any, from the same Secret as the server.

Choices:
- no HTTP probes: a worker serves no requests; Celery reconnects to Redis by itself and a pool
  process that dies is replaced by the worker, so a liveness probe would only add restarts;
- ``terminationGracePeriodSeconds`` covers one page's time limit: on SIGTERM Celery stops taking
  pages and finishes the running one (a page cut short anyway is re-delivered: ``acks_late``);
- with autoscaling, ``replicas`` is left to KEDA or the HPA (see ``scaledobject``).
"""

from __future__ import annotations

from typing import Any

from ocr_operator.builders.deployment import _pod_template
from ocr_operator.builders.jobsconfig import METRICS_PORT, jobs_env
from ocr_operator.builders.meta import LABEL_COMPONENT, LABEL_INSTANCE, Owner, object_meta
from ocr_operator.spec import OcrServiceSpec
from ocr_server.config import JobsConfig

WORKER_COMPONENT = "ocr-worker"
WORKER_CONTAINER = "ocr-worker"
WORKER_COMMAND = ["python3", "-m", "ocr_server.jobs.worker"]

# Default JobsConfig task time limit; the grace period covers it.
_TASK_TIME_LIMIT = JobsConfig.model_fields["task_time_limit_seconds"].default


def workers_name(owner: Owner) -> str:
    return f"{owner.name}-workers"


def worker_selector(owner: Owner) -> dict[str, str]:
    return {LABEL_INSTANCE: owner.name, LABEL_COMPONENT: WORKER_COMPONENT}


def build_worker_deployment(owner: Owner, spec: OcrServiceSpec, config_hash: str) -> dict[str, Any] | None:
    """The worker Deployment, or ``None`` when jobs are disabled."""
    if not spec.jobs.enabled:
        return None
    template = _pod_template(owner, spec, config_hash)
    labels = {**template["metadata"]["labels"], LABEL_COMPONENT: WORKER_COMPONENT}
    template["metadata"]["labels"] = labels
    pod_spec = template["spec"]
    (server,) = pod_spec["containers"]
    pod_spec["containers"] = [
        {
            "name": WORKER_CONTAINER,
            "image": server["image"],
            "imagePullPolicy": server["imagePullPolicy"],
            "command": list(WORKER_COMMAND),
            "env": [*server["env"], *jobs_env(spec)],
            "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
            "resources": spec.jobs.workers.resources.model_dump(by_alias=True),
            "securityContext": server["securityContext"],
            "volumeMounts": server["volumeMounts"],
        }
    ]
    pod_spec["terminationGracePeriodSeconds"] = _TASK_TIME_LIMIT + 10
    pod_spec["topologySpreadConstraints"][0]["labelSelector"] = {"matchLabels": worker_selector(owner)}
    meta = object_meta(owner, spec, workers_name(owner))
    meta["labels"] = {**meta["labels"], LABEL_COMPONENT: WORKER_COMPONENT}
    deployment_spec: dict[str, Any] = {
        "selector": {"matchLabels": worker_selector(owner)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "revisionHistoryLimit": 3,
        "template": template,
    }
    if not spec.jobs.autoscaling.enabled:
        deployment_spec["replicas"] = spec.jobs.workers.replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": deployment_spec}
