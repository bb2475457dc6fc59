"""PURE: ``status.canary``, the ``Canary`` condition, ``status.history`` and the canary's Events.

No I/O and no clock: the reconciler passes what it observed (the canary Deployment, the latest
analysis, a rollback it decided on) and ``now``.  The previous status is the memory: it says whether
this canary (by fingerprint) was rolled back, when it started (the progress deadline counts from
there), and which model the stable served before (a change of it is a history entry).

``Canary`` condition: True/Serving (all canary pods ready; traffic split as planned), Unknown/Progressing
(pods starting: no routed weight yet), True/Promoting (the stable rolls onto the canary's model),
False/Degraded (rolled back: analysis failed or pods not ready in time; the message says which), and
with ``autoRollback: false`` False/AnalysisFailed or False/ProgressDeadlineExceeded (still running).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ocr_operator.builders.meta import model_ref
from ocr_operator.canary.analysis import Judgement, deadline_exceeded
from ocr_operator.canary.plan import ROLLED_BACK, CanaryPlan, canary_model_ref
from ocr_operator.spec import OcrServiceSpec
from ocr_operator.status import (
    CanaryAnalysisStatus,
    CanaryStatus,
    Condition,
    EventSpec,
    HistoryEntry,
    OcrServiceStatus,
)

CANARY_CONDITION = "Canary"
HISTORY_LIMIT = 10


@dataclass(frozen=True)
class Observed:
    """What the reconciler knows about the canary now."""

    plan: CanaryPlan | None
    deployment: Mapping[str, Any] | None = None  # the live canary Deployment (its status counts)
    judgement: Judgement | None = None  # the latest analysis of this plan's fingerprint
    judged_at: str | None = None
    rollback: str | None = None  # why the operator rolls this canary back now (autoRollback on)
    stable_ready: int = 0


def _ready(deployment: Mapping[str, Any] | None) -> int:
    return int(((deployment or {}).get("status") or {}).get("readyReplicas") or 0)


def _split(plan: CanaryPlan) -> str:
    parts = ["podRatio"]
    if plan.ingress:
        parts.append("ingress")
    if plan.httproute:
        parts.append("gatewayAPI")
    return "+".join(parts)


def _analysis_status(judgement: Judgement, at: str | None) -> CanaryAnalysisStatus:
    def rate(value: float | None) -> str | None:
        return None if value is None else f"{value:.4f}"

    def ms(value: float | None) -> str | None:
        return None if value is None else f"{value:g}"

    return CanaryAnalysisStatus(
        verdict=judgement.verdict,
        message=judgement.message[:4096],
        checked_at=at,
        canary_requests=judgement.canary.requests,
        stable_requests=judgement.stable.requests,
        canary_error_rate=rate(judgement.canary.error_rate),
        stable_error_rate=rate(judgement.stable.error_rate),
        canary_p95_ms=ms(judgement.canary.p95_ms),
        stable_p95_ms=ms(judgement.stable.p95_ms),
    )


def _condition(status: str, reason: str, message: str, generation: int | None) -> Condition:
    return Condition(
        type=CANARY_CONDITION,
        status=status,  # type: ignore[arg-type]
        reason=reason,
        message=message[:4096],
        observed_generation=generation,
    )


def _history(previous: Mapping[str, Any]) -> list[HistoryEntry]:
    return [HistoryEntry.model_validate(h) for h in previous.get("history") or []]


def _entry(model: str, version: str | None, reason: str, at: str, message: str) -> HistoryEntry:
    return HistoryEntry(model=model, model_version=version, reason=reason, at=at, message=message[:1024])  # type: ignore[arg-type]


def _running(
    plan: CanaryPlan, before: Mapping[str, Any], observed: Observed, now: str, generation: int | None
) -> tuple[CanaryStatus, Condition]:
    """The status of a canary the plan runs (Progressing or Serving), and its condition."""
    canary = plan.canary
    assert canary is not None
    ref = canary_model_ref(canary.model)
    same = before.get("fingerprint") == plan.fingerprint and before.get("state") != ROLLED_BACK
    ready = _ready(observed.deployment)
    serving = ready >= plan.replicas
    total = ready + observed.stable_ready
    analysis = None
    if observed.judgement is not None:
        analysis = _analysis_status(observed.judgement, observed.judged_at)
    elif same and before.get("analysis"):
        analysis = CanaryAnalysisStatus.model_validate(before["analysis"])
    state = "Serving" if serving else "Progressing"
    detail = f"{ready}/{plan.replicas} canary pods ready; split {_split(plan)}"
    if total:
        detail += f"; {round(100 * ready / total)} % of the ready pods"
    if plan.track_services:
        detail += f"; {plan.routed_weight} % routed by weight"
    if not serving:
        condition = _condition("Unknown", "Progressing", f"canary {ref}: {detail}", generation)
    elif analysis is not None and analysis.verdict == "Fail":
        condition = _condition("False", "AnalysisFailed", f"canary {ref}: {analysis.message}", generation)
    else:
        condition = _condition("True", "Serving", f"canary {ref} at weight {canary.weight}: {detail}", generation)
    started_at = before.get("startedAt") if same and before.get("startedAt") else now
    rules = canary.analysis
    if not canary.auto_rollback and deadline_exceeded(
        started_at, now, rules.progress_deadline_seconds, ready, plan.replicas
    ):
        message = f"canary {ref}: {ready}/{plan.replicas} pods ready after {rules.progress_deadline_seconds} s"
        condition = _condition("False", "ProgressDeadlineExceeded", message + " (autoRollback is off)", generation)
    status = CanaryStatus(
        model=ref,
        model_version=canary.model.version,
        weight=canary.weight,
        routed_weight=plan.routed_weight if plan.track_services else None,
        pod_percent=round(100 * ready / total) if total else 0,
        split=_split(plan),
        replicas=plan.replicas,
        ready_replicas=ready,
        state=state,  # type: ignore[arg-type]
        summary=f"{ref} {canary.weight}% {state}",
        message=detail,
        started_at=started_at,
        fingerprint=plan.fingerprint,
        analysis=analysis,
    )
    return status, condition


def _merge_time(condition: Condition | None, previous: Mapping[str, Any], now: str) -> Condition | None:
    if condition is None:
        return None
    old = next((c for c in previous.get("conditions") or [] if c.get("type") == CANARY_CONDITION), None)
    same = old is not None and old.get("status") == condition.status and old.get("lastTransitionTime")
    return condition.model_copy(update={"last_transition_time": old["lastTransitionTime"] if same and old else now})


def _transition_events(condition: Condition | None, previous: Mapping[str, Any]) -> list[EventSpec]:
    """An Event when the canary starts serving, or a check fails without autoRollback."""
    if condition is None:
        return []
    old = next((c for c in previous.get("conditions") or [] if c.get("type") == CANARY_CONDITION), {})
    if old.get("status") == condition.status and old.get("reason") == condition.reason:
        return []
    if condition.reason == "Serving":
        return [EventSpec("Normal", "CanaryServing", condition.message)]
    if condition.reason in ("AnalysisFailed", "ProgressDeadlineExceeded"):
        return [EventSpec("Warning", f"Canary{condition.reason}", condition.message)]
    return []


def with_canary(
    status: OcrServiceStatus,
    previous: Mapping[str, Any] | None,
    spec: OcrServiceSpec,
    observed: Observed,
    now: str,
) -> tuple[OcrServiceStatus, list[EventSpec]]:
    """``status`` with ``canary``, ``history`` and the ``Canary`` condition set; the Events to post."""
    previous = previous or {}
    before: Mapping[str, Any] = previous.get("canary") or {}
    history = _history(previous)
    events: list[EventSpec] = []
    generation = status.observed_generation
    plan = observed.plan

    if status.model and status.model != previous.get("model"):
        promoted = bool(before) and before.get("state") != ROLLED_BACK and before.get("model") == status.model
        if promoted:
            message = "the stable Deployment took the canary's model"
            events.append(EventSpec("Normal", "CanaryPromoted", f"promoted canary {status.model} to stable"))
        elif previous.get("model"):
            message = f"spec.model changed from {previous['model']}"
        else:
            message = "first rollout"
        reason = "promoted" if promoted else "manual"
        history.append(_entry(status.model, status.model_version, reason, now, message))

    canary: CanaryStatus | None = None
    condition: Condition | None = None
    if spec.canary is None:
        if plan is not None and plan.promoting and before and status.model != model_ref(spec):
            canary = CanaryStatus.model_validate(before).model_copy(
                update={
                    "state": "Promoting",
                    "summary": f"{before['model']} Promoting",
                    "message": f"the stable Deployment is rolling onto {model_ref(spec)}",
                }
            )
            condition = _condition("True", "Promoting", canary.message, generation)
        elif before and before.get("state") != ROLLED_BACK and before.get("model") != status.model:
            history.append(
                _entry(before["model"], before.get("modelVersion"), "rolledBack", now, "spec.canary removed")
            )
            events.append(EventSpec("Normal", "CanaryRemoved", f"canary {before['model']} removed (spec.canary)"))
    elif observed.rollback is not None and plan is not None and plan.runs:
        running, _ = _running(plan, before, observed, now, generation)
        message = f"canary {running.model} rolled back: {observed.rollback}"
        canary = running.model_copy(
            update={"state": ROLLED_BACK, "message": message[:4096], "routed_weight": None, "ready_replicas": 0}
        )
        condition = _condition("False", "Degraded", message, generation)
        history.append(_entry(running.model, running.model_version, "rolledBack", now, observed.rollback))
        events.append(EventSpec("Warning", "CanaryRolledBack", message))
    elif plan is None or not plan.runs:
        if before.get("state") == ROLLED_BACK:  # stays rolled back until its fingerprint changes
            canary = CanaryStatus.model_validate(before).model_copy(
                update={"weight": spec.canary.weight, "summary": f"{before['model']} RolledBack"}
            )
            condition = _condition("False", "Degraded", canary.message, generation)
    else:
        # A new attempt after a rollback starts afresh; with autoRollback off, a failed check is
        # reported on the condition and the canary keeps running.
        canary, condition = _running(plan, before, observed, now, generation)

    if canary is not None and canary.state == ROLLED_BACK:
        canary = canary.model_copy(update={"summary": f"{canary.model} RolledBack"})
    condition = _merge_time(condition, previous, now)
    events += _transition_events(condition, previous)
    conditions = [c for c in status.conditions if c.type != CANARY_CONDITION]
    if condition is not None:
        conditions.append(condition)
    updated = status.model_copy(
        update={"canary": canary, "history": history[-HISTORY_LIMIT:], "conditions": conditions}
    )
    return updated, events


def carry_canary(status: OcrServiceStatus, previous: Mapping[str, Any] | None) -> OcrServiceStatus:
    """``status`` with the previous canary, history and ``Canary`` condition kept as they were (an
    invalid spec: nothing new is known about the canary)."""
    previous = previous or {}
    conditions = [c for c in status.conditions if c.type != CANARY_CONDITION]
    old = next((c for c in previous.get("conditions") or [] if c.get("type") == CANARY_CONDITION), None)
    if old is not None:
        conditions.append(Condition.model_validate(old))
    canary = previous.get("canary")
    return status.model_copy(
        update={
            "canary": CanaryStatus.model_validate(canary) if canary else None,
            "history": _history(previous),
            "conditions": conditions,
        }
    )


def status_patch(previous: Mapping[str, Any] | None, status: OcrServiceStatus) -> dict[str, Any]:
    """The merge patch for ``status``: a canary that is gone must be written as ``null`` (a merge
    patch leaves out keys untouched)."""
    patch = status.to_patch()
    if (previous or {}).get("canary") and "canary" not in patch:
        patch["canary"] = None
    return patch
