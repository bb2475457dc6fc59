"""The one reconcile every handler calls: parse → build → apply → observe → status.

:class:`Reconciler` owns the little state a level-based operator needs between events: a lock per
OcrService (owner and child events arrive on different threads), the last status written (to skip
no-op status patches) and the last rollout line logged (one line per rollout *step*, not per
event).  It reaches Kubernetes only through :class:`~ocr_operator.apply.KubeApi` and an event sink,
so tests can drive it with fakes.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ocr_operator.apply import ApplyError, KubeApi, apply_children, apply_deployment
from ocr_operator.builders import (
    DEPLOYMENT,
    HTTPROUTE,
    INGRESS,
    SERVICE,
    ChildKind,
    Owner,
    build_children,
    child_name,
    service_url,
)
from ocr_operator.builders.configmap import render_config
from ocr_operator.builders.meta import config_hash, stable_pod_selector
from ocr_operator.builders.workers import workers_name
from ocr_operator.canary.analysis import Judgement
from ocr_operator.canary.loop import CanaryAnalyst
from ocr_operator.canary.plan import CanaryPlan
from ocr_operator.canary.reconciler import CanaryReconciling
from ocr_operator.canary.scrape import ApiPods, PodProxyMetrics
from ocr_operator.canary.state import carry_canary, status_patch, with_canary
from ocr_operator.catalog import ModelCatalog
from ocr_operator.discovery import ServedDetector
from ocr_operator.drift import drift_paths
from ocr_operator.failures import ChildFailure, retryable, summarize
from ocr_operator.jobs import (
    JobsApplyResult,
    JobsChild,
    KedaDetector,
    apply_jobs_child,
    apply_jobs_children,
    build_jobs_children,
    failure_key,
    jobs_condition,
    previous_jobs_condition,
    slim_deployment,
    with_jobs_condition,
)
from ocr_operator.repair import apply_child
from ocr_operator.restore import NO_DRIFT, restore_event
from ocr_operator.spec import API_VERSION, KIND, InvalidSpecError, OcrServiceSpec, parse_spec
from ocr_operator.status import (
    EventSpec,
    OcrServiceStatus,
    Problem,
    Rollout,
    carried_problem,
    compute_status,
    condition_events,
    lingering_pods,
    observe_rollout,
    rollout_line,
    status_changed,
)

log = logging.getLogger("ocr_operator")

EventSink = Callable[[Mapping[str, Any], EventSpec], None]
LiveChildren = Mapping[ChildKind, Mapping[str, Any] | None]


def utc_now() -> str:
    """RFC 3339 timestamp in the form Kubernetes uses for condition times."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _autoscaling(spec: OcrServiceSpec) -> tuple[int, int] | None:
    auto = spec.autoscaling
    return (auto.min_replicas, auto.max_replicas) if auto.enabled else None


def url_kind(spec: OcrServiceSpec) -> ChildKind:
    """The child that makes ``status.url`` reachable: the Ingress when it has a host, else the Service."""
    return INGRESS if spec.ingress.enabled and spec.ingress.host else SERVICE


@dataclass(frozen=True)
class Outcome:
    """What a reconcile ended with: ``problem`` set means the spec (or a child) must change before a
    retry helps."""

    problem: Problem | None = None


class _State:
    """What the reconciler remembers of one OcrService between events (all of it rebuilt by the
    resume reconcile after a restart)."""

    def __init__(self) -> None:
        self.spec_problem: Problem | None = None  # InvalidSpec / UnknownModel: nothing is applied
        self.failures: dict[str, ChildFailure] = {}  # by child kind
        self.present: set[ChildKind] | None = None  # children known to exist; None: not known yet
        self.deployment: Mapping[str, Any] | None = None  # the newest Deployment seen
        self.reconciled = False  # a full reconcile ran since start (else trust the status on the object)
        # The generation the last full reconcile applied: a child event must not report a newer one
        # (it restored one child, the others may still be at the old spec).
        self.generation: int | None = None
        # spec.canary: the plan last applied, the canary Deployment last seen, the latest analysis
        # (fingerprint, judgement, when) and whether canary children may exist (then they are cleaned up).
        self.canary_plan: CanaryPlan | None = None
        self.canary_deployment: Mapping[str, Any] | None = None
        self.analysis: tuple[str | None, Judgement, str] | None = None
        self.canary_touched = False
        # The Deployment generation whose completed rollout left no pod of an older model: pods are
        # listed once per rollout, not on every Deployment event.
        self.settled_generation: int | None = None
        self.lingering: tuple[str, ...] = ()

    def problem(self) -> Problem | None:
        return self.spec_problem or summarize(self.failures.values())


class Reconciler(CanaryReconciling):
    """Drives OcrServices towards their spec; safe to call from kopf's handler threads.  The canary
    part (plan, children, analysis loop, rollback) is in :class:`CanaryReconciling`."""

    def __init__(
        self,
        api: KubeApi,
        post_event: EventSink,
        clock: Callable[[], str] = utc_now,
        catalog: ModelCatalog | None = None,
        analyst: CanaryAnalyst | None = None,
        gateway_api: Callable[[KubeApi], bool] | None = None,
    ) -> None:
        self.api = api
        self.catalog = catalog or ModelCatalog()
        self._post_event = post_event
        self._clock = clock
        self._guard = threading.Lock()
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._states: defaultdict[str, _State] = defaultdict(_State)
        self._last_status: dict[str, dict[str, Any]] = {}
        self._last_line: dict[str, str] = {}
        self._last_deployment_version: dict[str, int] = {}
        self._keda = KedaDetector()
        self._gateway = gateway_api or ServedDetector(HTTPROUTE)
        self.analyst = analyst or CanaryAnalyst(ApiPods(api), PodProxyMetrics(api))
        self._jobs_seen: dict[str, dict[str, Any]] = {}  # uid → jobs Deployments last seen, by name
        self.reconciles = 0

    def _lock(self, uid: str) -> threading.Lock:
        with self._guard:
            return self._locks[uid]

    def _state(self, uid: str) -> _State:
        with self._guard:
            return self._states[uid]

    def forget(self, uid: str) -> None:
        """Drop the memory of a deleted OcrService."""
        with self._guard:
            self._locks.pop(uid, None)
            self._states.pop(uid, None)
            self._last_status.pop(uid, None)
            self._last_line.pop(uid, None)
            self._last_deployment_version.pop(uid, None)
            self._jobs_seen.pop(uid, None)
        self.analyst.forget(uid)

    def _spec_problem(self, body: Mapping[str, Any]) -> tuple[OcrServiceSpec | None, Problem | None]:
        """The parsed spec, or why it cannot be applied at all (invalid, or a model its image lacks)."""
        try:
            spec = parse_spec(body.get("spec"))
        except InvalidSpecError as err:
            return None, Problem("InvalidSpec", f"invalid spec: {err}")
        unknown = self.catalog.unknown_model(spec)
        if unknown is None and spec.canary is not None:  # the canary's model, in the canary's image
            canary = spec.model_copy(update={"model": spec.canary.model, "image": spec.canary.image or spec.image})
            unknown = self.catalog.unknown_model(canary)
            unknown = f"canary: {unknown}" if unknown else None
        return spec, (Problem("UnknownModel", unknown) if unknown else None)

    # -- the full reconcile (owner events) -------------------------------------------------------

    def reconcile(self, body: Mapping[str, Any], live: LiveChildren) -> Outcome:
        """Bring every child of ``body`` to its desired state and report the status.

        A child the API server refuses does not stop the others.  Every failure is on the status
        before this returns; raises :class:`ApplyError` (not permanent) when a retry may fix one.
        """
        owner = Owner.from_body(body)
        with self._lock(owner.uid):
            with self._guard:
                self.reconciles += 1
            state = self._state(owner.uid)
            state.reconciled = True
            state.generation = (body.get("metadata") or {}).get("generation")
            spec, problem = self._spec_problem(body)
            state.spec_problem = problem
            if state.present is None:
                state.present = {kind for kind, child in live.items() if child is not None}
            if problem is not None or spec is None:
                state.failures.clear()
                self._report(body, spec, live.get(DEPLOYMENT), problem)
                return Outcome(problem)
            if spec.paused:
                log.info("%s/%s: paused, not applying changes", owner.namespace, owner.name)
                self._report(body, spec, live.get(DEPLOYMENT), state.problem())
                return Outcome()
            previous = self._previous(owner, body)
            plan = self._plan(spec, body, previous)
            # A canary's children before the main Ingress moves onto them; after it moved off them.
            canary_first = plan is not None and plan.runs
            try:
                canary = self._apply_canary(owner, spec, plan, previous) if canary_first else None
                result = apply_children(self.api, owner, build_children(owner, spec, plan), live, _autoscaling(spec))
                jobs = self._apply_jobs(body, owner, spec)
                if canary is None:
                    canary = self._apply_canary(owner, spec, plan, previous)
            except ApplyError as err:
                if err.namespace_terminating:
                    self._namespace_terminating(owner)
                    return Outcome()
                raise
            state.canary_plan = plan
            for kind in result.repaired:
                self._report_repair(owner, kind)
            for child in [*jobs.repaired, *canary.repaired]:
                self._report_repair(owner, child.kind, child.name)
            # Main children by kind, jobs and canary children (several per kind) by kind and name.
            state.failures = {f.kind: f for f in result.failures}
            state.failures.update({f"{f.kind}/{f.name}": f for f in [*jobs.failures, *canary.failures]})
            state.present = {kind for kind, child in result.live.items() if child is not None}
            deployment = result.live[DEPLOYMENT]
            self._is_fresh(owner, deployment)
            problem = state.problem()
            self._report(body, spec, deployment, problem)
            if retryable([*result.failures, *jobs.failures, *canary.failures]):
                raise ApplyError(problem.message if problem else "retrying", permanent=False)
            return Outcome(problem)

    # -- jobs: workers, Redis, scaling (see ocr_operator.jobs) ------------------------------------

    def _apply_jobs(self, body: Mapping[str, Any], owner: Owner, spec: OcrServiceSpec) -> JobsApplyResult:
        """Apply (or remove) the jobs children one by one, through the same path (and failure
        records) as the main children; nothing at all for an OcrService that never had jobs."""
        cleanup = spec.jobs.enabled or previous_jobs_condition(self._previous(owner, body)) is not None
        if not cleanup:
            return JobsApplyResult({}, [], [])
        try:
            keda = self._keda(self.api)
        except ApplyError as err:
            if err.namespace_terminating:
                raise
            # Which scaler to apply (or delete) depends on KEDA's presence: retry the jobs side whole.
            failure = ChildFailure("ScaledObject", workers_name(owner), str(err), err.permanent)
            return JobsApplyResult({}, [failure], [])
        result = apply_jobs_children(
            self.api,
            owner,
            spec,
            config_hash(render_config(spec, owner)),
            keda=keda,
            cleanup=cleanup,
        )
        with self._guard:
            seen = self._jobs_seen.setdefault(owner.uid, {})
            for name, obj in result.live.items():
                seen[name] = slim_deployment(obj)
        return result

    def on_jobs_child_event(
        self,
        owner_body: Mapping[str, Any],
        name: str,
        child: Mapping[str, Any] | None,
        kind: ChildKind = DEPLOYMENT,
    ) -> None:
        """A jobs child (worker or Redis Deployment, Redis Service, worker HPA) changed: restore it if
        it was deleted or edited by hand (as ``on_child_event`` does for the main children), record or
        clear its failure, and refresh ``JobsReady`` from the Deployments."""
        owner = Owner.from_body(owner_body)
        with self._lock(owner.uid):
            state = self._state(owner.uid)
            spec, problem = self._spec_problem(owner_body)
            if spec is None or problem is not None or not spec.jobs.enabled:
                return
            before = state.problem()
            live = child
            if not spec.paused:
                live, go_on = self._restore_recorded(
                    owner, state, kind, name, child, lambda: self._restore_jobs_child(owner, spec, kind, name, child)
                )
                if not go_on:
                    return
            if kind is DEPLOYMENT:
                with self._guard:
                    self._jobs_seen.setdefault(owner.uid, {})[name] = slim_deployment(live)
            previous = self._previous(owner, owner_body)
            if not previous:
                return  # the first full reconcile writes the whole status
            if state.problem() != before:
                if state.generation != (owner_body.get("metadata") or {}).get("generation"):
                    return  # its reconcile is still to run: it reports
                self._report(owner_body, spec, state.deployment, self._problem(state, owner, owner_body))
                return
            status = self._with_jobs(owner, spec, previous, OcrServiceStatus.model_validate(previous), owner_body)
            if status_changed(previous, status):
                patch = status.to_patch()  # the canary part is carried over as it was
                self.api.patch_status(owner.namespace, owner.name, patch)
                self._last_status[owner.uid] = patch

    def _restore_recorded(
        self,
        owner: Owner,
        state: _State,
        kind: ChildKind,
        name: str,
        child: Mapping[str, Any] | None,
        restore: Callable[[], Mapping[str, Any] | None],
    ) -> tuple[Mapping[str, Any] | None, bool]:
        """Run ``restore`` for one child outside the full reconcile (a jobs or canary child's event) and
        keep ``state.failures`` true to it: a refusal is logged and recorded under ``KIND/name`` (so the
        object's conditions name it), a success clears it.  Returns the child as it is now (``child``
        when the restore failed) and False when the namespace is being deleted (nothing more to do)."""
        key = failure_key(kind, name)
        try:
            live = restore()
        except ApplyError as err:
            if err.namespace_terminating:
                self._namespace_terminating(owner)
                return child, False
            log.warning("%s/%s: could not restore %s %s: %s", owner.namespace, owner.name, kind.kind, name, err)
            state.failures[key] = ChildFailure(kind.kind, name, str(err), err.permanent)
            return child, True
        state.failures.pop(key, None)
        return live, True

    def _restore_jobs_child(
        self, owner: Owner, spec: OcrServiceSpec, kind: ChildKind, name: str, child: Mapping[str, Any] | None
    ) -> Mapping[str, Any] | None:
        """Re-apply one jobs child when it no longer matches the spec; return it as it is now.  A child
        the spec does not want is left to the full reconcile (which deletes it)."""
        wanted: JobsChild | None = next(
            (
                c
                for c in build_jobs_children(
                    owner, spec, config_hash(render_config(spec, owner)), keda=self._keda(self.api)
                )
                if c.kind is kind and c.name == name
            ),
            None,
        )
        if wanted is None or wanted.desired is None:
            return child
        desired = wanted.desired
        where = f"{owner.namespace}/{owner.name}"
        if child is not None and not drift_paths(desired, child):
            return child
        # Decide on a fresh read: the event may be older than the last apply.
        child = self.api.get(kind, owner.namespace, name)
        if child is not None and (child.get("metadata") or {}).get("deletionTimestamp"):
            return child  # on its way out: its deletion event restores it
        if (event := restore_event(kind, name, desired, child, where)) is NO_DRIFT:
            return child
        repaired: list[ChildKind] = []
        restored = apply_jobs_child(self.api, owner, spec, wanted, child, repaired)
        if event is not None:
            log.warning("%s: %s", where, event.message)
            self._post_event(self._owner_ref(owner), event)
        elif repaired:
            self._report_repair(owner, kind, name)
        return restored

    def _with_jobs(
        self,
        owner: Owner,
        spec: OcrServiceSpec | None,
        previous: Mapping[str, Any],
        status: OcrServiceStatus,
        body: Mapping[str, Any],
    ) -> OcrServiceStatus:
        enabled = bool(spec and spec.jobs.enabled)
        with self._guard:
            seen = dict(self._jobs_seen.get(owner.uid) or {})
        condition = None
        if spec is not None and enabled and seen:
            generation = (body.get("metadata") or {}).get("generation")
            condition = jobs_condition(spec, owner, seen, generation)
        if spec is None:  # invalid spec: keep whatever was reported
            enabled = previous_jobs_condition(previous) is not None
        return with_jobs_condition(status, previous, condition, self._clock(), enabled=enabled)

    # -- child events: drift restore and status refresh ------------------------------------------

    def on_child_event(
        self,
        owner_body: Mapping[str, Any],
        kind: ChildKind,
        child: Mapping[str, Any] | None,
    ) -> None:
        """React to one child's event (``child`` is ``None`` when it was deleted): restore it if it
        differs from the spec (a hand edit, or a spec change not applied yet), retry it if it had
        failed, and refresh the status when the Deployment or a failure changed."""
        owner = Owner.from_body(owner_body)
        with self._lock(owner.uid):
            state = self._state(owner.uid)
            spec, problem = self._spec_problem(owner_body)
            if spec is None or problem is not None:
                return  # the owner's own handler reported it; nothing to restore towards
            live = child
            before = state.problem()
            if not spec.paused:
                try:
                    live = self._restore(owner, spec, kind, child, owner_body)
                except ApplyError as err:
                    if err.namespace_terminating:
                        self._namespace_terminating(owner)
                        return
                    log.warning("%s/%s: could not restore %s: %s", owner.namespace, owner.name, kind.kind, err)
                    state.failures[kind.kind] = ChildFailure(
                        kind.kind, child_name(owner, kind), str(err), err.permanent
                    )
                else:
                    state.failures.pop(kind.kind, None)
            if state.present is not None:
                (state.present.add if live is not None else state.present.discard)(kind)
            fresh = kind is DEPLOYMENT and self._is_fresh(owner, live)
            if state.generation != (owner_body.get("metadata") or {}).get("generation"):
                return  # its reconcile is still to run (queued, or the operator just started): it reports
            if fresh or state.problem() != before:
                deployment = live if kind is DEPLOYMENT else state.deployment
                self._report(owner_body, spec, deployment, self._problem(state, owner, owner_body))

    def _restore(
        self,
        owner: Owner,
        spec: OcrServiceSpec,
        kind: ChildKind,
        child: Mapping[str, Any] | None,
        body: Mapping[str, Any],
    ) -> Mapping[str, Any] | None:
        """Re-apply (or re-delete) one child when it no longer matches the spec; return it as it is now."""
        state = self._state(owner.uid)
        # Before the first full reconcile since a start, the canary plan comes from the status (else a
        # main Ingress would be "restored" away from a running canary's stable Service).
        plan = state.canary_plan if state.reconciled else self._plan(spec, body, self._previous(owner, body))
        desired = build_children(owner, spec, plan).by_kind()[kind]
        name = child_name(owner, kind)
        where = f"{owner.namespace}/{owner.name}"
        if desired is None:
            if child is not None:
                self.api.delete(kind, owner.namespace, name)
                log.info("%s: deleted %s %s (disabled in the spec)", where, kind.kind, name)
            return None
        if child is None or drift_paths(desired, child):
            # Decide on a fresh read: the event may be older than the last apply, or be about a
            # Deployment replaced on purpose to change its selector (see apply.replace_deployment).
            child = self.api.get(kind, owner.namespace, name)
        if child is not None and (child.get("metadata") or {}).get("deletionTimestamp"):
            return child  # on its way out: its deletion event restores it if it is still wanted
        if (event := restore_event(kind, name, desired, child, where)) is NO_DRIFT:
            return child
        repaired: list[ChildKind] = []
        if kind is DEPLOYMENT:
            restored = apply_deployment(self.api, desired, child, _autoscaling(spec), repaired)
        else:
            restored = apply_child(self.api, kind, desired, repaired=repaired)
        if event is not None:
            log.warning("%s: %s", where, event.message)
            self._post_event(self._owner_ref(owner), event)
        elif repaired:
            self._report_repair(owner, kind)
        return restored

    def _report_repair(self, owner: Owner, kind: ChildKind, name: str | None = None) -> None:
        """A child needed the repair ladder: only a hand edit leaves one like that (a changed list key,
        an extra list entry), whatever else changed in the spec meanwhile."""
        name = name or child_name(owner, kind)
        detail = f"{kind.kind} {name} was changed by hand (a list entry apply cannot merge back); restored it"
        log.warning("%s/%s: %s", owner.namespace, owner.name, detail)
        self._post_event(self._owner_ref(owner), EventSpec("Warning", "DriftCorrected", detail))

    def _namespace_terminating(self, owner: Owner) -> None:
        """The namespace is being deleted: tell the Event sink, so nothing more is posted there."""
        note = getattr(self._post_event, "namespace_terminating", None)
        if callable(note):
            note(owner.namespace)

    def _problem(self, state: _State, owner: Owner, body: Mapping[str, Any]) -> Problem | None:
        """The problem to report: the reconciler's own knowledge, or, before the first full reconcile
        since a restart, the one on the object for this generation."""
        if state.reconciled:
            return state.problem()
        previous = self._previous(owner, body)
        return state.problem() or carried_problem(previous, (body.get("metadata") or {}).get("generation"))

    # -- observe → status → log line + Events ------------------------------------------------------

    def _is_fresh(self, owner: Owner, deployment: Mapping[str, Any] | None) -> bool:
        """Whether ``deployment`` is at least as new as the last one reported on.

        Under load the child watch lags behind the apply responses the full reconcile reports from;
        reporting a stale event would move the status (and the rollout log) backwards.  The API
        server's resourceVersions are increasing integers (etcd revisions); anything else is
        treated as fresh.
        """
        if deployment is None:
            return True
        try:
            version = int((deployment.get("metadata") or {}).get("resourceVersion") or "")
        except ValueError:
            return True
        with self._guard:
            if version < self._last_deployment_version.get(owner.uid, 0):
                return False
            self._last_deployment_version[owner.uid] = version
            self._states[owner.uid].deployment = deployment
        return True

    @staticmethod
    def _owner_ref(owner: Owner) -> dict[str, Any]:
        """Enough of the OcrService for an Event's involvedObject."""
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"namespace": owner.namespace, "name": owner.name, "uid": owner.uid},
        }

    def _previous(self, owner: Owner, body: Mapping[str, Any]) -> dict[str, Any]:
        """The last status we wrote, else the one on the object (after an operator restart)."""
        return self._last_status.get(owner.uid) or dict(body.get("status") or {})

    def _log_rollout_step(self, owner: Owner, rollout: Rollout) -> None:
        """One log line per rollout step; one Event when a rollout starts (its end is the ``Ready``
        Event).  Events per step would double the API writes of a rollout for little extra insight."""
        line = rollout_line(owner.namespace, owner.name, rollout)
        previous = self._last_line.get(owner.uid)
        if previous == line:
            return
        self._last_line[owner.uid] = line
        log.info("%s", line)
        started = not rollout.complete and (previous is None or previous.endswith("(complete)"))
        if started:
            message = line.split(": ", 1)[1]
            self._post_event(self._owner_ref(owner), EventSpec("Normal", "RolloutStarted", message))

    def _lingering(self, owner: Owner, deployment: Mapping[str, Any] | None) -> tuple[str, ...]:
        """The old model's pods still present after a completed rollout (terminating ones included),
        listed once per Deployment generation until none is left.  A failed list is logged and
        counted as none: the status then switches as it did before this check existed."""
        if deployment is None:
            return ()
        rollout = observe_rollout(deployment)
        state = self._state(owner.uid)
        generation = (deployment.get("metadata") or {}).get("generation")
        if not rollout.complete or state.settled_generation == generation:
            return ()
        try:
            pods = self.api.list_pods(owner.namespace, stable_pod_selector(owner))
        except ApplyError as err:
            log.warning("%s/%s: could not list the server pods: %s", owner.namespace, owner.name, err)
            pods = []
        lingering = lingering_pods(pods, rollout)
        if lingering != state.lingering:
            if lingering:
                log.info(
                    "%s/%s: rollout complete, waiting for %d pod(s) of the previous model to terminate: %s",
                    owner.namespace, owner.name, len(lingering), ", ".join(lingering),
                )  # fmt: skip
            elif state.lingering:
                log.info("%s/%s: the previous model's pods are gone", owner.namespace, owner.name)
            state.lingering = lingering
        if not lingering:
            state.settled_generation = generation
        return lingering

    def settle_tick(self, body: Mapping[str, Any]) -> None:
        """Re-check a completed rollout's old pods (kopf timer while ``TerminatingOldPods``): their
        going away changes no Deployment, so no event would report it."""
        owner = Owner.from_body(body)
        with self._lock(owner.uid):
            state = self._state(owner.uid)
            spec, problem = self._spec_problem(body)
            if spec is None or problem is not None or state.deployment is None:
                return
            if state.generation != (body.get("metadata") or {}).get("generation"):
                return  # its reconcile is still to run: it reports
            self._report(body, spec, state.deployment, self._problem(state, owner, body))

    def _url(self, owner: Owner, spec: OcrServiceSpec | None, previous: Mapping[str, Any]) -> str | None:
        """``status.url`` only while the child that serves it exists (the Ingress with a host, else the
        Service); unknown existence (no reconcile since a restart) keeps what the status said."""
        present = self._state(owner.uid).present
        if spec is None or present is None:
            return previous.get("url")
        return service_url(owner, spec) if url_kind(spec) in present else None

    def _report(
        self,
        body: Mapping[str, Any],
        spec: OcrServiceSpec | None,
        deployment: Mapping[str, Any] | None,
        problem: Problem | None,
        rollback: str | None = None,
        converge: bool = True,
    ) -> None:
        """Compute and write the status, post its Events; when the canary plan it implies differs from
        the one applied (``converge``), apply the canary children for it and report once more."""
        owner = Owner.from_body(body)
        previous = self._previous(owner, body)
        lingering = self._lingering(owner, deployment)
        status = compute_status(
            generation=(body.get("metadata") or {}).get("generation"),
            deployment=deployment,
            previous=previous,
            url=self._url(owner, spec, previous),
            now=self._clock(),
            paused=bool(spec and spec.paused),
            problem=problem,
            lingering=lingering,
        )
        status = self._with_jobs(owner, spec, previous, status, body)
        canary_events: list[EventSpec] = []
        if spec is None:
            status = carry_canary(status, previous)
        else:
            observed = self._observed(owner, spec, rollback)
            status, canary_events = with_canary(status, previous, spec, observed, self._clock())
        if deployment is not None:
            self._log_rollout_step(owner, observe_rollout(deployment))
        if status_changed(previous, status):
            patch = status_patch(previous, status)
            self.api.patch_status(owner.namespace, owner.name, patch)
            self._last_status[owner.uid] = status.to_patch()
        for event in [*condition_events(previous, status), *canary_events]:
            if event.type == "Warning":
                log.warning("%s/%s: %s: %s", owner.namespace, owner.name, event.reason, event.message)
            elif event.reason.startswith("Canary"):
                log.info("%s/%s: %s: %s", owner.namespace, owner.name, event.reason, event.message)
            self._post_event(self._owner_ref(owner), event)
        state = self._state(owner.uid)
        if converge and spec is not None and not spec.paused and state.reconciled and state.spec_problem is None:
            plan = self._plan(spec, body, self._last_status.get(owner.uid) or previous)
            if plan != state.canary_plan:
                self._converge_canary(owner, spec, plan, previous)
                if state.canary_plan == plan:  # report the new plan (its routed weight) at once
                    self._report(body, spec, deployment, problem, converge=False)
