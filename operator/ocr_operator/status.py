"""PURE status layer: observed Deployment (+ spec) → ``OcrService.status``, rollout line, Events.

No I/O and no clock: the caller passes ``now``, the previous status and what it observed, so every
rule below is a plain unit test.  The model classes double as the CRD's status schema (see ``crd``).

Conditions (Kubernetes conventions: positive polarity for Ready, "abnormal-true" for Degraded):
- ``Ready``: every desired replica runs the current pod template and is available.
- ``Progressing``: a rollout is under way (True); finished (False, RolloutComplete); stuck past
  ``progressDeadlineSeconds`` (False, ProgressDeadlineExceeded); paused (False, Paused).  A rollout
  is under way until the Deployment controller reports its new ReplicaSet available: pods of the
  current template that are still starting are a rollout, ones lost after it completed are not.
  A rollout that changed the model stays Progressing (True, ``TerminatingOldPods``) until no pod of
  the old model is left, terminating ones included: those still answer (the preStop sleep keeps them
  serving until kube-proxy drops them), so ``status.model`` names the new model only once every
  answer comes from it.
- ``Degraded``: the operator cannot converge: invalid spec, unknown model, a child refused or not
  yet applied (``ApplyFailed``, naming each child), or stuck rollout.
- ``Ready`` is never True while a problem stands: a child the spec asks for is missing or wrong, so
  the service is not what was asked for even if its pods are up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ocr_operator.builders.meta import MODEL_ANNOTATION, MODEL_VERSION_ANNOTATION

CONDITION_TYPES = ("Ready", "Progressing", "Degraded")
# Progressing=True's reason while a completed rollout waits for the old model's pods to go.
TERMINATING_OLD_PODS = "TerminatingOldPods"


class _Status(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Condition(_Status):
    """One observation about the service, in the standard Kubernetes condition shape."""

    type: str = Field(description="Ready, Progressing or Degraded.", max_length=64)
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason, stable for scripts.", max_length=128)
    message: str = Field("", description="Human-readable detail.", max_length=4096)
    last_transition_time: str | None = Field(
        None, description="When status last changed.", json_schema_extra={"format": "date-time"}
    )
    observed_generation: int | None = Field(None, description="metadata.generation this condition describes.")


class CanaryAnalysisStatus(_Status):
    """The canary's last analysis: both tracks' figures over the window and the verdict."""

    verdict: Literal["Pass", "Fail", "Inconclusive"] = Field(description="Pass, Fail or Inconclusive.")
    message: str = Field("", description="Why, with the figures.", max_length=4096)
    checked_at: str | None = Field(None, description="When.", json_schema_extra={"format": "date-time"})
    canary_requests: int | None = Field(None, description="Canary requests to the OCR routes in the window.")
    stable_requests: int | None = Field(None, description="Stable requests to the OCR routes in the window.")
    canary_error_rate: str | None = Field(None, description="Canary error rate in the window (0-1, as text).")
    stable_error_rate: str | None = Field(None, description="Stable error rate in the window (0-1, as text).")
    canary_p95_ms: str | None = Field(None, description="Canary p95 latency in the window, milliseconds.")
    stable_p95_ms: str | None = Field(None, description="Stable p95 latency in the window, milliseconds.")


class CanaryStatus(_Status):
    """The canary as the operator runs it (or rolled it back)."""

    model: str = Field(description="Canary model, <name>-<version>.")
    model_version: str | None = Field(None, description="Canary model version.")
    weight: int = Field(0, description="spec.canary.weight.")
    routed_weight: int | None = Field(
        None, description="Weight the Ingress / HTTPRoute gives the canary now (0 until all its pods are ready)."
    )
    pod_percent: int | None = Field(
        None, description="Canary share of the ready pods behind the Service, percent (the split by pod ratio)."
    )
    split: str | None = Field(None, description="How traffic is split: podRatio, and ingress / gatewayAPI.")
    replicas: int | None = Field(None, description="Canary pods wanted.")
    ready_replicas: int | None = Field(None, description="Canary pods ready.")
    state: Literal["Progressing", "Serving", "Promoting", "RolledBack"] = Field(
        description="Progressing (pods starting), Serving, Promoting (the stable rolls onto it), RolledBack."
    )
    summary: str = Field("", description="Model and weight, as the CANARY column shows them.", max_length=256)
    message: str = Field("", description="Human-readable detail.", max_length=4096)
    started_at: str | None = Field(
        None,
        description="When this canary started (its progress deadline counts from here).",
        json_schema_extra={"format": "date-time"},
    )
    fingerprint: str | None = Field(
        None,
        description="Hash of the canary's model, image and fault annotation: a rolled-back canary "
        "stays away until it changes.",
        max_length=64,
    )
    analysis: CanaryAnalysisStatus | None = Field(None, description="The last analysis.")


class HistoryEntry(_Status):
    """One change of the model served (newest last)."""

    model: str = Field(description="Model, <name>-<version>.")
    model_version: str | None = Field(None, description="Model version.")
    reason: Literal["promoted", "rolledBack", "manual"] = Field(
        description="promoted (the stable took the canary's model), rolledBack (a canary was removed or "
        "rolled back automatically), manual (spec.model changed without a canary)."
    )
    at: str = Field(description="When.", json_schema_extra={"format": "date-time"})
    message: str = Field("", description="Detail.", max_length=1024)


class OcrServiceStatus(_Status):
    """Observed state of the OCR service, computed by the operator from its Deployment."""

    observed_generation: int | None = Field(None, description="The metadata.generation last reconciled.")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Progressing and Degraded.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    replicas: int | None = Field(None, description="Desired replicas (the HPA's choice when autoscaling).")
    ready_replicas: int | None = Field(None, description="Pods passing their readiness probe.")
    updated_replicas: int | None = Field(None, description="Pods running the current pod template.")
    available_replicas: int | None = Field(None, description="Ready pods that stayed ready minReadySeconds.")
    model: str | None = Field(None, description="Model being served, <name>-<version>, once rolled out.")
    model_version: str | None = Field(None, description="Version of the model being served.")
    url: str | None = Field(None, description="Where clients send requests.")
    canary: CanaryStatus | None = Field(None, description="The canary, while it runs or stays rolled back.")
    history: list[HistoryEntry] = Field(
        default_factory=list,
        max_length=20,
        description="The last model versions served, newest last, with when and why they changed.",
    )

    def to_patch(self) -> dict[str, Any]:
        """The dict written to the status subresource (camelCase, unset fields omitted)."""
        patch = self.model_dump(by_alias=True, exclude_none=True)
        if not patch.get("history"):
            patch.pop("history", None)
        return patch


@dataclass(frozen=True)
class Problem:
    """Why the operator could not apply the current spec (reason is a condition/Event reason)."""

    reason: Literal["InvalidSpec", "ApplyFailed", "UnknownModel"]
    message: str


@dataclass(frozen=True)
class Rollout:
    """Progress of the Deployment, distilled from its status."""

    desired: int
    updated: int
    available: int
    ready: int
    total: int
    observed: bool
    # The Deployment's own Progressing condition says its latest rollout has not completed yet
    # (True, any reason but NewReplicaSetAvailable): also when every pod already runs the new
    # template but is not available yet, e.g. the first rollout.
    in_progress: bool
    stuck_message: str | None
    target_model: str | None
    target_model_version: str | None

    @property
    def complete(self) -> bool:
        """All desired pods run the current template, none of an older one, all available."""
        return (
            self.observed
            and self.updated >= self.desired
            and self.total <= self.updated
            and self.available >= self.desired
        )

    @property
    def stuck(self) -> bool:
        return self.stuck_message is not None


@dataclass(frozen=True)
class EventSpec:
    """A Kubernetes Event to post on the OcrService."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


def observe_rollout(deployment: Mapping[str, Any]) -> Rollout:
    """Read the rollout's progress from a live Deployment object."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    template_annotations = ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}
    stuck_message = None
    in_progress = False
    for cond in status.get("conditions") or []:
        if cond.get("type") != "Progressing":
            continue
        if cond.get("status") == "False" and cond.get("reason") == "ProgressDeadlineExceeded":
            stuck_message = cond.get("message") or "rollout exceeded its progress deadline"
        elif cond.get("status") == "True" and cond.get("reason") != "NewReplicaSetAvailable":
            in_progress = True
    observed = int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
    return Rollout(
        desired=int(spec.get("replicas", 1)),
        # Until the controller has seen the new template, its "updated" pods are the old template's.
        updated=int(status.get("updatedReplicas") or 0) if observed else 0,
        available=int(status.get("availableReplicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        total=int(status.get("replicas") or 0),
        observed=observed,
        in_progress=in_progress,
        stuck_message=stuck_message,
        target_model=template_annotations.get(MODEL_ANNOTATION),
        target_model_version=template_annotations.get(MODEL_VERSION_ANNOTATION),
    )


def lingering_pods(pods: list[Mapping[str, Any]], rollout: Rollout) -> tuple[str, ...]:
    """Names of the pods (of the stable track) that still serve another model than the rollout's
    target, terminating ones included: the Deployment's ``status.replicas`` no longer counts a pod
    once it is terminating, but the pod still answers through its preStop sleep.  Finished pods
    (Succeeded/Failed) and pods without a model annotation do not count."""
    if not rollout.target_model:
        return ()
    target = (rollout.target_model, rollout.target_model_version)
    names = []
    for pod in pods:
        meta, phase = pod.get("metadata") or {}, (pod.get("status") or {}).get("phase")
        annotations = meta.get("annotations") or {}
        model = annotations.get(MODEL_ANNOTATION)
        if model is None or phase in ("Succeeded", "Failed"):
            continue
        if (model, annotations.get(MODEL_VERSION_ANNOTATION)) != target:
            names.append(str(meta.get("name")))
    return tuple(sorted(names))


def rollout_line(namespace: str, name: str, rollout: Rollout) -> str:
    """The one log line per rollout step, e.g.
    ``default/invoices: rollout 2/3 updated, 1/3 available, model crnn-en-1.0.0``."""
    state = "complete" if rollout.complete else ("stuck" if rollout.stuck else "")
    suffix = f" ({state})" if state else ""
    return (
        f"{namespace}/{name}: rollout {rollout.updated}/{rollout.desired} updated, "
        f"{rollout.available}/{rollout.desired} available, model {rollout.target_model or 'unknown'}{suffix}"
    )


def _condition(type_: str, ok: bool, reason: str, message: str, generation: int | None) -> Condition:
    return Condition(
        type=type_, status="True" if ok else "False", reason=reason, message=message, observed_generation=generation
    )


def _stuck_message(rollout: Rollout) -> str:
    """The Deployment controller's words, plus the model its new pods were to serve: pods that never
    become ready usually mean a model the image does not have (the server's /ready says so)."""
    message = rollout.stuck_message or "rollout exceeded its progress deadline"
    if rollout.target_model:
        message += f"; pods of model {rollout.target_model} did not become ready"
    return message


def _conditions(
    rollout: Rollout | None,
    problem: Problem | None,
    paused: bool,
    generation: int | None,
    lingering: tuple[str, ...] = (),
) -> list[Condition]:
    """The three conditions, before transition times are merged in."""
    if rollout is None:
        waiting = problem.message if problem else "waiting for the Deployment to be created"
        reason = problem.reason if problem else "Creating"
        return [
            _condition("Ready", False, reason, waiting, generation),
            _condition(
                "Progressing", problem is None and not paused, "Paused" if paused else reason, waiting, generation
            ),
            _condition(
                "Degraded",
                problem is not None,
                problem.reason if problem else "AsExpected",
                problem.message if problem else "",
                generation,
            ),
        ]
    progress = f"rollout {rollout.updated}/{rollout.desired} updated, {rollout.available}/{rollout.desired} available"
    if rollout.complete:
        ready = _condition(
            "Ready", True, "Available", f"{rollout.available}/{rollout.desired} replicas available", generation
        )
        progressing = _condition(
            "Progressing",
            False,
            "Paused" if paused else "RolloutComplete",
            "spec.paused is true: changes are not applied" if paused else progress,
            generation,
        )
        if lingering:
            shown = ", ".join(lingering[:3]) + (f" and {len(lingering) - 3} more" if len(lingering) > 3 else "")
            progressing = _condition(
                "Progressing",
                True,
                TERMINATING_OLD_PODS,
                f"{progress}; waiting for {len(lingering)} pod(s) of the previous model to terminate: {shown}",
                generation,
            )
    elif rollout.stuck:
        ready = _condition("Ready", False, "ProgressDeadlineExceeded", progress, generation)
        progressing = _condition("Progressing", False, "ProgressDeadlineExceeded", _stuck_message(rollout), generation)
    else:
        rolling = (
            not rollout.observed
            or rollout.updated < rollout.desired
            or rollout.total > rollout.updated
            or rollout.in_progress
        )
        reason = "RollingOut" if rolling else "Unavailable"
        ready = _condition("Ready", False, reason, progress, generation)
        # Not rolling: the rollout completed, then pods were lost (crashed, evicted), or a scale-up.
        progressing = _condition(
            "Progressing", rolling, "RollingOut" if rolling else "RolloutComplete", progress, generation
        )
    if problem is not None:
        degraded = _condition("Degraded", True, problem.reason, problem.message, generation)
        ready = _condition("Ready", False, problem.reason, problem.message, generation)
    elif rollout.stuck:
        degraded = _condition("Degraded", True, "ProgressDeadlineExceeded", _stuck_message(rollout), generation)
    else:
        degraded = _condition("Degraded", False, "AsExpected", "", generation)
    return [ready, progressing, degraded]


def _merge_transition_times(new: list[Condition], previous: Mapping[str, Any] | None, now: str) -> list[Condition]:
    """Keep ``lastTransitionTime`` when a condition's status did not change (Kubernetes semantics)."""
    before = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    merged = []
    for cond in new:
        old = before.get(cond.type)
        same = old is not None and old.get("status") == cond.status and old.get("lastTransitionTime")
        merged.append(cond.model_copy(update={"last_transition_time": old["lastTransitionTime"] if same else now}))
    return merged


def compute_status(
    *,
    generation: int | None,
    deployment: Mapping[str, Any] | None,
    previous: Mapping[str, Any] | None,
    url: str | None,
    now: str,
    paused: bool = False,
    problem: Problem | None = None,
    lingering: tuple[str, ...] = (),
) -> OcrServiceStatus:
    """The full status from what was observed.

    ``model``/``modelVersion`` name what is *served*: they take the Deployment's target model once its
    rollout completes and no pod of another model is left (``lingering``, see :func:`lingering_pods`),
    and keep the previous value until then.
    """
    previous = previous or {}
    rollout = observe_rollout(deployment) if deployment is not None else None
    conditions = _merge_transition_times(_conditions(rollout, problem, paused, generation, lingering), previous, now)
    model, model_version = previous.get("model"), previous.get("modelVersion")
    if rollout is not None and rollout.complete and rollout.target_model and not lingering:
        model, model_version = rollout.target_model, rollout.target_model_version
    return OcrServiceStatus(
        observed_generation=generation,
        conditions=conditions,
        replicas=rollout.desired if rollout else None,
        ready_replicas=rollout.ready if rollout else None,
        updated_replicas=rollout.updated if rollout else None,
        available_replicas=rollout.available if rollout else None,
        model=model,
        model_version=model_version,
        url=url,
    )


def carried_problem(previous: Mapping[str, Any] | None, generation: int | None) -> Problem | None:
    """An apply failure reported for this very generation: status refreshes from Deployment events
    must keep it (only a successful reconcile of a new generation clears it)."""
    for cond in (previous or {}).get("conditions") or []:
        if (
            cond.get("type") == "Degraded"
            and cond.get("status") == "True"
            and cond.get("reason") in ("InvalidSpec", "ApplyFailed", "UnknownModel")
            and cond.get("observedGeneration") == generation
        ):
            return Problem(cond["reason"], cond.get("message") or "")
    return None


def status_changed(previous: Mapping[str, Any] | None, new: OcrServiceStatus) -> bool:
    """Whether a status patch is needed (avoids one API write per watch event)."""
    return dict(previous or {}) != new.to_patch()


def condition_events(previous: Mapping[str, Any] | None, new: OcrServiceStatus) -> list[EventSpec]:
    """Events for condition changes users care about: became (un)ready, degraded, recovered.

    One Event per *distinct* failure: a ``Degraded`` whose message changed (another child refused,
    another reason) is a new failure; the same failure seen again on a retry is not."""
    before = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    events: list[EventSpec] = []
    for cond in new.conditions:
        old = before.get(cond.type) or {}
        same = old.get("status") == cond.status and old.get("reason") == cond.reason
        if same and not (cond.type == "Degraded" and cond.status == "True" and old.get("message") != cond.message):
            continue
        if cond.type == "Ready" and cond.status == "True":
            events.append(EventSpec("Normal", "Ready", cond.message))
        elif cond.type == "Degraded" and cond.status == "True":
            events.append(EventSpec("Warning", cond.reason, cond.message))
        elif cond.type == "Degraded" and old.get("status") == "True":
            events.append(EventSpec("Normal", "Recovered", "the operator converges again"))
    return events
