"""PURE: OcrService spec → the server Deployment.

Choices that matter for operations:
- the config hash and the model on the pod template: a threshold, model or image change changes the
  template, so the Deployment rolls (RollingUpdate, maxUnavailable 0: capacity never drops);
- with autoscaling on, ``replicas`` is left out so the HPA owns it (server-side apply semantics);
- a pod that passes Pod Security "restricted": non-root UID 10001, no privilege escalation, no
  capabilities, RuntimeDefault seccomp, read-only root filesystem with an emptyDir on /tmp;
- a startup probe on /ready gives the model time to load before liveness (/health) may kill the pod;
- the grace period covers one full request timeout so a rollout does not cut requests short;
- a preStop sleep keeps a terminating pod serving until kube-proxy has dropped it from the Service:
  without it gunicorn closes its socket at SIGTERM while clients are still routed to it, and a
  rollout or pod deletion under load loses requests ("connection refused"; measured on a real node,
  tests/e2e).
"""

from __future__ import annotations

from typing import Any

from ocr_operator.builders.jobsconfig import jobs_env
from ocr_operator.builders.meta import (
    CONFIG_DIR,
    CONFIG_HASH_ANNOTATION,
    CONFIG_KEY,
    CONTAINER_NAME,
    MODEL_ANNOTATION,
    MODEL_VERSION_ANNOTATION,
    SERVER_PORT,
    STABLE_TRACK,
    TRACK_LABEL,
    Owner,
    configmap_name,
    model_ref,
    object_meta,
    selector_labels,
    standard_labels,
    workload_name,
)
from ocr_operator.spec import OcrServiceSpec
from ocr_server.config import CONFIG_ENV_VAR

RUN_AS_USER = 10001
TMP_SIZE_LIMIT = "256Mi"
# Model load can take a while on a busy node: allow up to 5 minutes before the startup probe fails.
STARTUP_PERIOD_SECONDS = 5
STARTUP_FAILURE_THRESHOLD = 60
# Seconds a terminating pod keeps serving before SIGTERM, while its endpoint is removed everywhere.
# The `sleep` handler (no binary needed in the image) is on by default since Kubernetes 1.30.
PRESTOP_SLEEP_SECONDS = 5


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http", "scheme": "HTTP"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
        "successThreshold": 1,
    }


def _container(spec: OcrServiceSpec) -> dict[str, Any]:
    return {
        "name": CONTAINER_NAME,
        "image": f"{spec.image.repository}:{spec.image.tag}",
        "imagePullPolicy": spec.image.pull_policy,
        "ports": [{"name": "http", "containerPort": SERVER_PORT, "protocol": "TCP"}],
        "env": [
            {"name": CONFIG_ENV_VAR, "value": f"{CONFIG_DIR}/{CONFIG_KEY}"},
            {"name": "TMPDIR", "value": "/tmp"},
            *jobs_env(spec),
        ],
        "resources": spec.resources.model_dump(by_alias=True),
        "startupProbe": _probe("/ready", STARTUP_PERIOD_SECONDS, STARTUP_FAILURE_THRESHOLD),
        "livenessProbe": _probe("/health", 10, 3),
        "readinessProbe": _probe("/ready", 5, 2),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_SECONDS}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def _pod_template(owner: Owner, spec: OcrServiceSpec, config_hash: str) -> dict[str, Any]:
    labels = {**spec.pod_labels, **standard_labels(owner, spec), TRACK_LABEL: STABLE_TRACK}
    annotations = {
        **spec.pod_annotations,
        CONFIG_HASH_ANNOTATION: config_hash,
        MODEL_ANNOTATION: model_ref(spec),
        MODEL_VERSION_ANNOTATION: spec.model.version,
    }
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": spec.server.request_timeout_seconds + 10,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(spec)],
        "volumes": [
            {
                "name": "config",
                "configMap": {"name": configmap_name(owner), "items": [{"key": CONFIG_KEY, "path": CONFIG_KEY}]},
            },
            {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}},
        ],
        # Spread replicas over nodes when possible, so one node loss does not take the service down.
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector_labels(owner)},
            }
        ],
    }
    if spec.node_selector:
        pod_spec["nodeSelector"] = dict(spec.node_selector)
    if spec.tolerations:
        pod_spec["tolerations"] = [t.model_dump(by_alias=True, exclude_none=True) for t in spec.tolerations]
    if spec.affinity:
        pod_spec["affinity"] = dict(spec.affinity)
    return {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod_spec}


def build_deployment(owner: Owner, spec: OcrServiceSpec, config_hash: str) -> dict[str, Any]:
    """The Deployment running the OCR server; ``config_hash`` is the hash of the ConfigMap's file."""
    deployment_spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(owner)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
        "revisionHistoryLimit": 5,
        "progressDeadlineSeconds": spec.progress_deadline_seconds,
        "template": _pod_template(owner, spec, config_hash),
    }
    if not spec.autoscaling.enabled:
        deployment_spec["replicas"] = spec.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(owner, spec, workload_name(owner)),
        "spec": deployment_spec,
    }
