"""The Reconciler's canary part (``spec.canary``): a mixin of :class:`~ocr_operator.reconcile.Reconciler`.

What it adds to the reconcile: the canary plan from the spec and the status (``plan``), its children
applied or removed in the right order around the main Ingress (``children``), restore of a canary child
after its own event, and the analysis loop's step (``canary_tick``, driven by a kopf timer): progress
deadline, scrape and verdict (``loop``), and the rollback, which is a status report with a reason
followed by the children of the new plan (none).  It uses the Reconciler's state, locks, API and status
report; kept apart so ``reconcile`` stays about the main children.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ocr_operator.apply import ApplyError, KubeApi
from ocr_operator.builders import DEPLOYMENT, INGRESS, ChildKind, Owner, build_children, child_name
from ocr_operator.builders.configmap import render_config
from ocr_operator.builders.meta import config_hash
from ocr_operator.canary.analysis import deadline_exceeded
from ocr_operator.canary.children import (
    CanaryApplyResult,
    CanaryChild,
    apply_canary_child,
    apply_canary_children,
    build_canary_children,
)
from ocr_operator.canary.loop import CanaryAnalyst
from ocr_operator.canary.plan import CanaryPlan, fault_of, plan_canary
from ocr_operator.canary.state import Observed
from ocr_operator.drift import drift_paths
from ocr_operator.failures import ChildFailure
from ocr_operator.repair import apply_child
from ocr_operator.restore import NO_DRIFT, restore_event
from ocr_operator.spec import OcrServiceSpec

if TYPE_CHECKING:
    from ocr_operator.reconcile import _State

log = logging.getLogger("ocr_operator")


class CanaryReconciling:
    """The canary methods; the Reconciler provides the attributes declared here."""

    api: KubeApi
    analyst: CanaryAnalyst
    _gateway: Callable[[KubeApi], bool]
    _clock: Callable[[], str]

    if TYPE_CHECKING:

        def _state(self, uid: str) -> _State: ...
        def _lock(self, uid: str) -> Any: ...
        def _previous(self, owner: Owner, body: Mapping[str, Any]) -> dict[str, Any]: ...
        def _spec_problem(self, body: Mapping[str, Any]) -> tuple[OcrServiceSpec | None, Any]: ...
        def _problem(self, state: _State, owner: Owner, body: Mapping[str, Any]) -> Any: ...
        def _report(
            self,
            body: Mapping[str, Any],
            spec: OcrServiceSpec | None,
            deployment: Any,
            problem: Any,
            rollback: str | None = None,
            converge: bool = True,
        ) -> None: ...
        def _namespace_terminating(self, owner: Owner) -> None: ...
        def _restore_recorded(
            self,
            owner: Owner,
            state: _State,
            kind: ChildKind,
            name: str,
            child: Mapping[str, Any] | None,
            restore: Callable[[], Mapping[str, Any] | None],
        ) -> tuple[Mapping[str, Any] | None, bool]: ...
        def _report_repair(self, owner: Owner, kind: ChildKind, name: str | None = None) -> None: ...
        def _post_event(self, involved: Mapping[str, Any], event: Any) -> None: ...
        def _owner_ref(self, owner: Owner) -> dict[str, Any]: ...

    # -- canary: plan, children, analysis, rollback (see ocr_operator.canary) -----------------------

    def _plan(self, spec: OcrServiceSpec, body: Mapping[str, Any], previous: Mapping[str, Any]) -> CanaryPlan | None:
        """The canary plan for ``spec`` (asks whether the Gateway API is served only when a canary is
        involved: an OcrService without one costs no request)."""
        involved = spec.canary is not None or bool(previous.get("canary"))
        gateway = self._gateway(self.api) if involved else False
        return plan_canary(spec, fault_of(body.get("metadata")), previous, gateway_api=gateway)

    def _canary_children(self, owner: Owner, spec: OcrServiceSpec, plan: CanaryPlan | None) -> list[CanaryChild]:
        return build_canary_children(
            owner, spec, plan, config_hash(render_config(spec, owner)), gateway_api=self._gateway(self.api)
        )

    def _apply_canary(
        self, owner: Owner, spec: OcrServiceSpec, plan: CanaryPlan | None, previous: Mapping[str, Any]
    ) -> CanaryApplyResult:
        """Apply (or remove) the canary children; nothing at all for an OcrService that never had a
        canary (no canary in the status, none applied since the operator started)."""
        state = self._state(owner.uid)
        if plan is None and not state.canary_touched and not previous.get("canary"):
            return CanaryApplyResult(None)
        state.canary_touched = plan is not None
        result = apply_canary_children(
            self.api, owner, self._canary_children(owner, spec, plan), state.canary_deployment
        )
        state.canary_touched = state.canary_touched or bool(result.failures)
        state.canary_deployment = result.deployment
        if plan is None or not plan.runs:
            state.analysis = None
            self.analyst.forget(owner.uid)
        return result

    def _converge_canary(
        self, owner: Owner, spec: OcrServiceSpec, plan: CanaryPlan | None, previous: Mapping[str, Any]
    ) -> None:
        """The plan changed without a spec change (the canary became ready, was rolled back, or its
        promotion completed): apply the canary children and the main Ingress for the new plan."""
        state = self._state(owner.uid)
        canary_first = plan is not None and plan.runs
        failures: dict[str, ChildFailure] = {}
        try:
            result = self._apply_canary(owner, spec, plan, previous) if canary_first else None
            ingress = build_children(owner, spec, plan).ingress
            if ingress is not None:
                try:
                    apply_child(self.api, INGRESS, ingress)
                    state.failures.pop(INGRESS.kind, None)
                except ApplyError as err:
                    if err.namespace_terminating:
                        raise
                    failures[INGRESS.kind] = ChildFailure(
                        INGRESS.kind, child_name(owner, INGRESS), str(err), err.permanent
                    )
            if result is None:
                result = self._apply_canary(owner, spec, plan, previous)
        except ApplyError as err:
            if err.namespace_terminating:
                self._namespace_terminating(owner)
                return
            raise
        state.canary_plan = plan
        failures.update({f"{f.kind}/{f.name}": f for f in result.failures})
        state.failures.update(failures)

    def on_canary_child_event(
        self, owner_body: Mapping[str, Any], kind: ChildKind, name: str, child: Mapping[str, Any] | None
    ) -> None:
        """A canary child changed: restore it if it was deleted or edited by hand; a canary Deployment
        event refreshes ``status.canary`` (its pods becoming ready gives it its routed weight)."""
        owner = Owner.from_body(owner_body)
        with self._lock(owner.uid):
            state = self._state(owner.uid)
            spec, problem = self._spec_problem(owner_body)
            if spec is None or problem is not None or not state.reconciled:
                return  # the full reconcile (always first after a start) applies the canary children
            before = state.problem()
            live = child
            if not spec.paused:
                live, go_on = self._restore_recorded(
                    owner, state, kind, name, child, lambda: self._restore_canary_child(owner, spec, kind, name, child)
                )
                if not go_on:
                    return
            if kind is DEPLOYMENT:
                state.canary_deployment = live
            if state.generation != (owner_body.get("metadata") or {}).get("generation"):
                return
            if kind is DEPLOYMENT or state.problem() != before:
                self._report(owner_body, spec, state.deployment, self._problem(state, owner, owner_body))

    def _restore_canary_child(
        self, owner: Owner, spec: OcrServiceSpec, kind: ChildKind, name: str, child: Mapping[str, Any] | None
    ) -> Mapping[str, Any] | None:
        """Re-apply one canary child when it no longer matches the plan (or delete one the plan does not
        want); return it as it is now."""
        plan = self._state(owner.uid).canary_plan
        wanted = next((c for c in self._canary_children(owner, spec, plan) if c.kind is kind and c.name == name), None)
        where = f"{owner.namespace}/{owner.name}"
        if wanted is None or wanted.keep:
            return child
        if wanted.desired is None:
            if child is not None and not (child.get("metadata") or {}).get("deletionTimestamp"):
                self.api.delete(kind, owner.namespace, name)
                log.info("%s: deleted %s %s (no canary wants it)", where, kind.kind, name)
            return None
        if child is not None and not drift_paths(wanted.desired, child):
            return child
        child = self.api.get(kind, owner.namespace, name)
        if child is not None and (child.get("metadata") or {}).get("deletionTimestamp"):
            return child
        if (event := restore_event(kind, name, wanted.desired, child, where)) is NO_DRIFT:
            return child
        repaired: list[ChildKind] = []
        restored = apply_canary_child(self.api, wanted, child if kind is DEPLOYMENT else None, repaired)
        if event is not None:
            log.warning("%s: %s", where, event.message)
            self._post_event(self._owner_ref(owner), event)
        elif repaired:
            self._report_repair(owner, kind, name)
        return restored

    def canary_tick(self, body: Mapping[str, Any]) -> None:
        """One step of the canary analysis loop (kopf timer): roll back a canary not ready within its
        progress deadline; when an analysis is due, scrape both tracks, judge the window, report the
        figures, and roll the canary back if it failed (``autoRollback``)."""
        owner = Owner.from_body(body)
        generation = (body.get("metadata") or {}).get("generation")
        spec, problem = self._spec_problem(body)
        if spec is None or problem is not None or spec.canary is None or spec.paused:
            self.analyst.forget(owner.uid)
            return
        rules = spec.canary.analysis
        with self._lock(owner.uid):
            state = self._state(owner.uid)
            plan = state.canary_plan
            if not state.reconciled or state.generation != generation or plan is None or not plan.runs:
                return
            before = self._previous(owner, body).get("canary") or {}
            ready = int(before.get("readyReplicas") or 0)
            if (
                spec.canary.auto_rollback
                and before.get("fingerprint") == plan.fingerprint
                and deadline_exceeded(
                    before.get("startedAt"), self._clock(), rules.progress_deadline_seconds, ready, plan.replicas
                )
            ):
                why = (
                    f"{ready}/{plan.replicas} canary pods ready after progressDeadlineSeconds "
                    f"({rules.progress_deadline_seconds} s)"
                )
                self._report(body, spec, state.deployment, self._problem(state, owner, body), rollback=why)
                return
        if not self.analyst.due(owner.uid, rules.interval_seconds):
            return
        judgement = self.analyst.analyse(owner, plan.fingerprint, rules)  # scrapes: outside the lock
        if judgement is None:
            return
        with self._lock(owner.uid):
            state = self._state(owner.uid)
            if state.canary_plan != plan or state.generation != generation:
                return  # the canary changed meanwhile: this window says nothing about it
            changed = state.analysis is None or state.analysis[1].verdict != judgement.verdict
            state.analysis = (plan.fingerprint, judgement, self._clock())
            # One line when the verdict changes (the figures of every analysis are on the status).
            log.log(
                logging.INFO if changed else logging.DEBUG,
                "%s/%s: canary analysis: %s: %s",
                owner.namespace,
                owner.name,
                judgement.verdict,
                judgement.message,
            )
            why = judgement.message if judgement.verdict == "Fail" and spec.canary.auto_rollback else None
            self._report(body, spec, state.deployment, self._problem(state, owner, body), rollback=why)

    def _observed(self, owner: Owner, spec: OcrServiceSpec, rollback: str | None) -> Observed:
        state = self._state(owner.uid)
        plan = state.canary_plan
        judgement = judged_at = None
        if state.analysis is not None and plan is not None and state.analysis[0] == plan.fingerprint:
            _, judgement, judged_at = state.analysis
        stable_ready = int(((state.deployment or {}).get("status") or {}).get("readyReplicas") or 0)
        return Observed(
            plan=plan,
            deployment=state.canary_deployment,
            judgement=judgement,
            judged_at=judged_at,
            rollback=rollback,
            stable_ready=stable_ready,
        )
