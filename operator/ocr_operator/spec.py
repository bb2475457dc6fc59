"""Typed view of an ``OcrService``: the pydantic models here ARE the CRD schema.

``operator/hack/gen_crd.py`` renders these models into ``crds/ocrservices.ocr-crnn.io.yaml`` and a
test fails when the file and the models disagree, so defaults, bounds, enums and descriptions are
written once.  The server-config sections (preprocessing, detection, recognition, and the server
and limits knobs) are the server's own models from ``ocr_server.config`` (reused or mirrored field
by field), so the CRD cannot offer a threshold the server does not know or bound it differently.

The API server applies the schema (defaults, min/max, CEL rules) before the operator ever sees an
object; :func:`parse_spec` re-validates and adds the checks a schema cannot express (quantities
compared across fields).  A spec that fails here is a user error: the caller reports it as the
``Degraded`` condition and stops retrying (``kopf.PermanentError``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from kubernetes.utils import parse_quantity
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, WithJsonSchema, model_validator
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from ocr_server.config import (
    DetectionConfig,
    JobsConfig,
    LimitsConfig,
    ModelSelection,
    PreprocessingConfig,
    RecognitionConfig,
    ServerConfig,
    format_validation_error,
)

GROUP = "ocr-crnn.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "OcrService"
PLURAL = "ocrservices"
SINGULAR = "ocrservice"
SHORT_NAMES = ("ocrs",)

DEFAULT_IMAGE_REPOSITORY = "ghcr.io/ocr-crnn/ocr-server"
DEFAULT_IMAGE_TAG = "0.1.0"

# A Kubernetes quantity as users write it (``500m``, ``1Gi``, ``2``); the API server and
# kubernetes.utils.parse_quantity do the exact parsing, this only refuses obvious typos early.
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
# RFC 1123 host name, optionally with one leading wildcard label (what Ingress accepts).
HOST_PATTERN = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Labels the operator sets itself; user labels may not override them (the selector depends on them).
RESERVED_LABEL_PREFIX = "app.kubernetes.io/"


class InvalidSpecError(ValueError):
    """The spec passed the API server's schema but cannot be reconciled; the message says why."""


def _cel(rule: str, message: str, field_path: str | None = None) -> dict[str, str]:
    """One ``x-kubernetes-validations`` entry (a CEL rule the API server evaluates on write)."""
    entry = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry


def _validations(*rules: dict[str, str]) -> dict[str, Any]:
    return {"x-kubernetes-validations": list(rules)}


def _replica_bounds(message: str) -> dict[str, Any]:
    """``minReplicas <= maxReplicas`` of an autoscaling section as a CEL rule: refused on write,
    where the HPA or KEDA would only refuse the child later, at apply time."""
    return _validations(_cel("self.minReplicas <= self.maxReplicas", message, ".minReplicas"))


def _mirror(model: type[BaseModel], name: str, alias: str | None = None) -> Any:
    """Reuse a server-config field (type bounds, default, description) verbatim in a spec model,
    so that e.g. ``spec.server.workers`` and the server's ``server.workers`` cannot drift apart.
    ``alias`` renames it in the CRD (``resultTTLSeconds``, as Kubernetes spells acronyms)."""
    info: FieldInfo = copy.deepcopy(model.model_fields[name])
    if alias:
        info.alias = info.validation_alias = info.serialization_alias = alias
        info.alias_priority = 2
    return info


def _quantity_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


Quantity = Annotated[
    str,
    BeforeValidator(_quantity_to_str),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    ),
]


class _Spec(BaseModel):
    """Base of the operator's own spec sections: camelCase like the CRD; unknown keys ignored so an
    operator older than its CRD still reconciles the fields it knows."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class ImageSpec(_Spec):
    """Container image of the OCR server."""

    repository: str = Field(DEFAULT_IMAGE_REPOSITORY, min_length=1, description="Image repository.")
    tag: str = Field(
        DEFAULT_IMAGE_TAG,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@sha256:[a-f0-9]{64})?$",
        description="Image tag; changing it rolls the Deployment.",
    )
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        "IfNotPresent", description="Kubernetes imagePullPolicy."
    )


class ModelSpec(_Spec):
    """The recognizer model the server loads (baked into the image under models/<name>-<version>/)."""

    name: str = _mirror(ModelSelection, "name")
    version: str = _mirror(ModelSelection, "version")


class Preprocessing(PreprocessingConfig):
    """Thresholds of the server's OpenCV preprocessing stage (the server's own schema)."""

    model_config = ConfigDict(
        json_schema_extra=_validations(
            _cel("self.minSide == 0 || self.minSide <= self.maxSide", "minSide must not exceed maxSide", ".minSide")
        )
    )


class Detection(DetectionConfig):
    """Text-line detector settings (the server's own schema)."""

    model_config = ConfigDict(
        json_schema_extra=_validations(
            _cel("self.adaptiveBlockSize % 2 == 1", "adaptiveBlockSize must be odd", ".adaptiveBlockSize"),
            _cel(
                "self.minLineHeight < self.maxLineHeight",
                "minLineHeight must be smaller than maxLineHeight",
                ".minLineHeight",
            ),
        )
    )


class Recognition(RecognitionConfig):
    """Recognizer runtime settings (the server's own schema)."""


class ServerSpec(_Spec):
    """gunicorn process settings and request limits of the server (its ``server`` and ``limits`` sections)."""

    model_config = ConfigDict(
        json_schema_extra=_validations(
            _cel(
                "self.maxRequestPixels <= self.maxWorkerPixels",
                "maxRequestPixels must not exceed maxWorkerPixels",
                ".maxRequestPixels",
            )
        )
    )

    workers: int = _mirror(ServerConfig, "workers")
    threads: int = _mirror(ServerConfig, "threads")
    log_level: Literal["debug", "info", "warning", "error"] = _mirror(ServerConfig, "log_level")
    max_upload_bytes: int = _mirror(LimitsConfig, "max_upload_bytes")
    max_pixels: int = _mirror(LimitsConfig, "max_pixels")
    max_images_per_request: int = _mirror(LimitsConfig, "max_images_per_request")
    max_concurrent_requests: int = _mirror(LimitsConfig, "max_concurrent_requests")
    request_timeout_seconds: int = _mirror(LimitsConfig, "request_timeout_seconds")
    max_request_pixels: int = _mirror(LimitsConfig, "max_request_pixels")
    max_worker_pixels: int = _mirror(LimitsConfig, "max_worker_pixels")
    header_timeout_seconds: int = _mirror(LimitsConfig, "header_timeout_seconds")
    body_timeout_seconds: int = _mirror(LimitsConfig, "body_timeout_seconds")
    max_pages: int = _mirror(LimitsConfig, "max_pages")
    max_document_pixels: int = _mirror(LimitsConfig, "max_document_pixels")
    pdf_dpi: int = _mirror(LimitsConfig, "pdf_dpi")


class ResourceRequests(_Spec):
    """Guaranteed CPU and memory per pod (the scheduler and the HPA's utilisation use these)."""

    cpu: Quantity = Field("500m", description="CPU request, e.g. 500m.")
    memory: Quantity = Field("512Mi", description="Memory request, e.g. 512Mi.")


class ResourceLimits(_Spec):
    """Upper bounds per pod; must not be below the requests."""

    cpu: Quantity = Field("1000m", description="CPU limit, e.g. 1000m.")
    memory: Quantity = Field("1Gi", description="Memory limit, e.g. 1Gi.")


class ResourcesSpec(_Spec):
    """Compute resources of each server pod."""

    requests: ResourceRequests = Field(default_factory=ResourceRequests)
    limits: ResourceLimits = Field(default_factory=ResourceLimits)


class AutoscalingSpec(_Spec):
    """HorizontalPodAutoscaler on CPU.  Off by default: it needs a metrics server in the cluster."""

    model_config = ConfigDict(
        json_schema_extra=_replica_bounds(
            "autoscaling.minReplicas must be less than or equal to autoscaling.maxReplicas"
        )
    )

    enabled: bool = Field(False, description="Create an HPA that owns the replica count; spec.replicas is ignored.")
    min_replicas: int = Field(2, ge=1, le=1000, description="Lowest replica count the HPA may set.")
    max_replicas: int = Field(10, ge=1, le=1000, description="Highest replica count the HPA may set.")
    target_cpu_utilization_percentage: int = Field(
        70,
        ge=1,
        le=100,
        alias="targetCPUUtilizationPercentage",  # the name HPA v1 users know
        description="Average CPU utilisation (percent of the request) the HPA aims for.",
    )


class IngressTLS(_Spec):
    """TLS termination at the ingress."""

    secret_name: str | None = Field(
        None, max_length=253, description="Secret holding the certificate; set it to serve https."
    )


class IngressSpec(_Spec):
    """HTTP(S) entry from outside the cluster."""

    model_config = ConfigDict(
        json_schema_extra=_validations(
            _cel("!self.enabled || has(self.host)", "ingress.host is required when ingress.enabled is true", ".host")
        )
    )

    enabled: bool = Field(False, description="Create an Ingress for the service.")
    host: str | None = Field(None, max_length=253, pattern=HOST_PATTERN, description="Public host name.")
    class_name: str | None = Field(None, max_length=253, description="IngressClass name; empty: cluster default.")
    path: str = Field("/", pattern=r"^/.*$", max_length=1024, description="URL path prefix routed to the server.")
    tls: IngressTLS = Field(default_factory=IngressTLS)
    max_body_size: str | None = Field(
        None,
        pattern=r"^[0-9]+[kKmMgG]?$",
        description="Largest request body the ingress accepts (nginx syntax, e.g. 8m); "
        "default: server.maxUploadBytes rounded up to MiB, plus 1m for multipart overhead.",
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, max_length=64, description="Extra annotations on the Ingress."
    )


class ServiceSpec(_Spec):
    """The Service in front of the server pods."""

    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field("ClusterIP", description="Service type.")
    port: int = Field(80, ge=1, le=65535, description="Service port (the pods listen on 8080).")
    annotations: dict[str, str] = Field(
        default_factory=dict, max_length=64, description="Extra annotations on the Service."
    )


class Toleration(_Spec):
    """A pod toleration (same fields as the Kubernetes Toleration)."""

    key: str | None = Field(None, max_length=317, description="Taint key; empty matches all keys with Exists.")
    operator: Literal["Exists", "Equal"] | None = Field(None, description="Exists or Equal (default Equal).")
    value: str | None = Field(None, max_length=63, description="Taint value for Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="Taint effect to match; empty matches all."
    )
    toleration_seconds: int | None = Field(None, description="How long a NoExecute taint is tolerated.")


class SecretKeyRef(_Spec):
    """A key of a Secret in the OcrService's namespace."""

    name: str = Field(min_length=1, max_length=253, description="Secret name.")
    key: str = Field("password", min_length=1, max_length=253, description="Key in the Secret.")


class RedisPersistence(_Spec):
    """Keep the operator-run Redis's append-only file on a PersistentVolumeClaim (else an emptyDir,
    which survives a Redis crash but not the pod's deletion)."""

    enabled: bool = Field(False, description="Store Redis data on a PersistentVolumeClaim.")
    size: Quantity = Field("1Gi", description="Requested volume size.")
    storage_class_name: str | None = Field(None, max_length=253, description="StorageClass; empty: the default.")


class RedisResources(ResourcesSpec):
    """Compute resources of the operator-run Redis pod."""

    requests: ResourceRequests = Field(default_factory=lambda: ResourceRequests(cpu="100m", memory="256Mi"))
    limits: ResourceLimits = Field(default_factory=lambda: ResourceLimits(cpu="1000m", memory="1Gi"))


class RedisSpec(_Spec):
    """Where jobs are queued and kept: an existing Redis (``url``, password from a Secret) or one the
    operator runs (``deploy: true``).  Exactly one of the two when jobs are enabled."""

    url: str | None = Field(
        None,
        pattern=r"^rediss?://[^\s@]+$",
        max_length=1024,
        description="URL of an existing Redis, e.g. redis://redis.cache:6379/0 (no password: see passwordSecretRef).",
    )
    password_secret_ref: SecretKeyRef | None = Field(
        None, description="Secret key holding the Redis password (for url; given to pods as OCR_REDIS_PASSWORD)."
    )
    deploy: bool = Field(False, description="Run a single Redis (Deployment + Service) for this OcrService.")
    image: str = Field(
        "docker.io/library/redis:7.2-alpine", min_length=1, description="Image of the operator-run Redis."
    )
    persistence: RedisPersistence = Field(default_factory=RedisPersistence)
    resources: RedisResources = Field(default_factory=RedisResources)


class WorkerResources(ResourcesSpec):
    """Compute resources of each worker pod (one page task per pool process, ~1 core each)."""

    requests: ResourceRequests = Field(default_factory=lambda: ResourceRequests(cpu="1000m", memory="768Mi"))
    limits: ResourceLimits = Field(default_factory=lambda: ResourceLimits(cpu="1000m", memory="1Gi"))


class WorkersSpec(_Spec):
    """The Celery worker pods (same image and model as the server, worker command)."""

    replicas: int = Field(1, ge=0, le=1000, description="Worker pods when jobs.autoscaling is disabled.")
    concurrency: int = Field(
        1, ge=1, le=64, description="Page tasks per worker pod at once (pool processes); match the CPU request."
    )
    resources: WorkerResources = Field(default_factory=WorkerResources)


class JobsAutoscalingSpec(_Spec):
    """Worker autoscaling: a KEDA ScaledObject on the queue length when KEDA is installed, else an HPA on CPU."""

    model_config = ConfigDict(
        json_schema_extra=_replica_bounds("jobs.autoscaling.minReplicas must be less than or equal to maxReplicas")
    )

    enabled: bool = Field(False, description="Scale the workers; jobs.workers.replicas is then ignored.")
    min_replicas: int = Field(
        1, ge=0, le=1000, description="Fewest workers (0 lets KEDA scale to zero; the HPA fallback uses at least 1)."
    )
    max_replicas: int = Field(10, ge=1, le=1000, description="Most workers.")
    target_queue_length: int = Field(
        5, ge=1, le=10000, description="Queued pages per worker KEDA aims for (its redis listLength)."
    )
    target_cpu_utilization_percentage: int = Field(
        80,
        ge=1,
        le=100,
        alias="targetCPUUtilizationPercentage",
        description="CPU utilisation the HPA fallback aims for (without KEDA).",
    )


class JobsSpec(_Spec):
    """Asynchronous batch OCR (/api/v1/jobs): Redis, Celery workers and their scaling."""

    model_config = ConfigDict(
        json_schema_extra=_validations(
            _cel(
                "!self.enabled || (has(self.redis.url) != self.redis.deploy)",
                "jobs.redis: set exactly one of url and deploy: true",
                ".redis",
            ),
            _cel(
                "!has(self.redis.passwordSecretRef) || has(self.redis.url)",
                "jobs.redis.passwordSecretRef is for an existing Redis (url)",
                ".redis",
            ),
        )
    )

    enabled: bool = Field(False, description="Serve /api/v1/jobs and run workers.")
    redis: RedisSpec = Field(default_factory=RedisSpec)
    workers: WorkersSpec = Field(default_factory=WorkersSpec)
    autoscaling: JobsAutoscalingSpec = Field(default_factory=JobsAutoscalingSpec)
    result_ttl_seconds: int = _mirror(JobsConfig, "result_ttl_seconds", alias="resultTTLSeconds")
    max_files_per_job: int = _mirror(JobsConfig, "max_files_per_job")
    max_bytes_per_job: int = _mirror(JobsConfig, "max_bytes_per_job")
    model_wait_seconds: int = _mirror(JobsConfig, "model_wait_seconds")

    @model_validator(mode="after")
    def _one_redis(self) -> JobsSpec:
        """The CEL rule again, for specs that reach the operator without the API server (tests, old CRDs)."""
        if self.enabled and (self.redis.url is not None) == self.redis.deploy:
            raise ValueError("jobs.redis: set exactly one of url and deploy: true")
        return self


class CanaryAnalysis(_Spec):
    """How the operator judges a running canary against the stable pods, from their /metrics.

    Every ``intervalSeconds`` it scrapes both tracks and compares the last ``windowSeconds`` of requests
    to the OCR routes: a canary with at least ``minRequests`` in the window fails when its error rate
    (5xx, timeouts included, and 422 undecodable answers) is above ``maxErrorRate`` and above the
    stable's, or its p95 latency is above ``maxP95Ms`` / ``maxP95LatencyRatio`` times the stable's."""

    model_config = ConfigDict(
        json_schema_extra=_validations(
            _cel(
                "!(has(self.maxP95LatencyRatio) && has(self.maxP95Ms))",
                "set at most one of maxP95LatencyRatio and maxP95Ms",
                ".maxP95Ms",
            ),
            _cel(
                "self.windowSeconds >= self.intervalSeconds",
                "windowSeconds must not be shorter than intervalSeconds",
                ".windowSeconds",
            ),
        )
    )

    interval_seconds: int = Field(30, ge=5, le=3600, description="Seconds between two analyses (scrapes).")
    window_seconds: int = Field(
        60, ge=5, le=86400, description="Requests of the last this-many seconds are compared (counter deltas)."
    )
    min_requests: int = Field(
        20, ge=1, le=1_000_000, description="Fewer canary requests in the window: no verdict yet (never a rollback)."
    )
    max_error_rate: float = Field(
        0.05, ge=0.0, le=1.0, description="Highest error rate (0-1) the canary may have, unless the stable's is higher."
    )
    max_p95_latency_ratio: float | None = Field(
        None,
        ge=1.0,
        le=100.0,
        description="Highest canary p95 as a multiple of the stable p95; unset: not checked.",
    )
    max_p95_ms: int | None = Field(
        None, ge=1, le=600_000, description="Highest canary p95 latency in milliseconds; unset: not checked."
    )
    progress_deadline_seconds: int = Field(
        300,
        ge=30,
        le=7200,
        description="Canary pods not all ready this long after the canary started (e.g. a bundle failing its "
        "golden-set gate): rolled back like a failed analysis.",
    )


class GatewayRef(_Spec):
    """A Gateway API Gateway the canary's HTTPRoute attaches to."""

    name: str = Field(min_length=1, max_length=253, description="Gateway name.")
    namespace: str | None = Field(None, max_length=63, description="Gateway namespace; empty: the OcrService's.")
    section_name: str | None = Field(None, max_length=253, description="Listener of the Gateway; empty: all.")


class CanarySpec(_Spec):
    """A second model version served beside the stable one, with a share of the traffic.

    Promote: set spec.model to the canary's model and remove canary (one edit).  Roll back: remove
    canary.  A canary that fails its analysis or never becomes ready is rolled back by the operator
    (autoRollback) and stays rolled back until its model, image or the fault annotation changes."""

    model_config = ConfigDict(
        json_schema_extra=_validations(
            _cel(
                "self.weight == 0 || !has(self.replicas) || self.replicas >= 1",
                "canary.replicas must be at least 1 when canary.weight is above 0",
                ".replicas",
            )
        )
    )

    model: ModelSpec = Field(description="The canary's model (must differ from spec.model).")
    image: ImageSpec | None = Field(None, description="Canary image; unset: the stable's spec.image.")
    weight: int = Field(
        10,
        ge=0,
        le=100,
        description="Percent of the traffic for the canary: exact through the Ingress / Gateway API, "
        "by ready-pod ratio through the Service (see canary.replicas).",
    )
    replicas: int | None = Field(
        None,
        ge=0,
        le=1000,
        description="Canary pods; unset: sized from weight (share of ready pods ~ weight, at most the stable's).",
    )
    auto_rollback: bool = Field(True, description="Roll back a canary that fails its analysis or never gets ready.")
    analysis: CanaryAnalysis = Field(default_factory=CanaryAnalysis)
    gateway_refs: list[GatewayRef] = Field(
        default_factory=list,
        max_length=16,
        description="Gateways the weighted HTTPRoute attaches to (with the Gateway API installed); empty: the "
        "route's parent is the OcrService's Service (GAMMA, for meshes).",
    )


class OcrServiceSpec(_Spec):
    """Desired state of one OCR service: server pods, their config, Service, and optionally Ingress and HPA."""

    model_config = ConfigDict(
        json_schema_extra=_validations(
            _cel(
                "!has(self.podLabels) || self.podLabels.all(k, !k.startsWith('app.kubernetes.io/'))",
                "podLabels must not set app.kubernetes.io/ labels: the operator owns them",
                ".podLabels",
            ),
            _cel(
                "!has(self.podLabels) || !('ocr-crnn.io/track' in self.podLabels)",
                "podLabels must not set ocr-crnn.io/track: the operator owns it",
                ".podLabels",
            ),
            _cel(
                "!has(self.canary) || self.canary.model.name != self.model.name "
                "|| self.canary.model.version != self.model.version",
                "canary.model must differ from model (to promote: set model to the canary's and remove canary)",
                ".canary.model",
            ),
        )
    )

    replicas: int = Field(2, ge=1, le=1000, description="Server pods when autoscaling is disabled.")
    paused: bool = Field(False, description="Stop applying changes; the status is still reported.")
    image: ImageSpec = Field(default_factory=ImageSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)
    detection: Detection = Field(default_factory=Detection)
    recognition: Recognition = Field(default_factory=Recognition)
    server: ServerSpec = Field(default_factory=ServerSpec)
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    autoscaling: AutoscalingSpec = Field(default_factory=AutoscalingSpec)
    ingress: IngressSpec = Field(default_factory=IngressSpec)
    service: ServiceSpec = Field(default_factory=ServiceSpec)
    jobs: JobsSpec = Field(default_factory=JobsSpec)
    canary: CanarySpec | None = Field(None, description="A canary model version beside the stable one; unset: none.")
    progress_deadline_seconds: int = Field(
        600, ge=30, le=7200, description="A rollout without progress for this long is reported as stuck."
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict, max_length=64, description="Node labels the pods must run on."
    )
    tolerations: list[Toleration] = Field(default_factory=list, max_length=64, description="Pod tolerations.")
    affinity: dict[str, Any] = Field(
        default_factory=dict, description="Pod affinity rules (a Kubernetes Affinity object, validated there)."
    )
    pod_labels: dict[str, str] = Field(
        default_factory=dict, max_length=64, description="Extra labels on the server pods."
    )
    pod_annotations: dict[str, str] = Field(
        default_factory=dict, max_length=64, description="Extra annotations on the server pods."
    )


def _quantity_order_errors(resources: ResourcesSpec) -> list[str]:
    """Requests above limits pass the CRD schema (quantities are strings to CEL) but the API server
    would refuse the Deployment; say so in the user's own terms instead."""
    errors = []
    for res in ("cpu", "memory"):
        request = getattr(resources.requests, res)
        limit = getattr(resources.limits, res)
        try:
            req_q, lim_q = Decimal(parse_quantity(request)), Decimal(parse_quantity(limit))
        except ValueError as err:
            errors.append(f"resources.{res}: {err}")
            continue
        if req_q > lim_q:
            errors.append(f"resources.requests.{res} ({request}) exceeds resources.limits.{res} ({limit})")
    return errors


def parse_spec(raw: Mapping[str, Any] | None) -> OcrServiceSpec:
    """Validate an OcrService ``spec`` (as stored, camelCase) into :class:`OcrServiceSpec`.

    Raises :class:`InvalidSpecError` with one readable line per problem.
    """
    try:
        spec = OcrServiceSpec.model_validate(dict(raw or {}))
    except ValidationError as err:
        raise InvalidSpecError(format_validation_error(err)) from err
    errors = _quantity_order_errors(spec.resources)
    if spec.canary is not None and spec.canary.model == spec.model:
        errors.append("canary.model must differ from model (to promote: set model to the canary's and remove canary)")
    if spec.jobs.enabled:
        errors += [f"jobs.workers.{e}" for e in _quantity_order_errors(spec.jobs.workers.resources)]
        if spec.jobs.redis.deploy:
            errors += [f"jobs.redis.{e}" for e in _quantity_order_errors(spec.jobs.redis.resources)]
    if errors:
        raise InvalidSpecError("; ".join(errors))
    return spec
