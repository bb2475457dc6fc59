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
from ocr_operator.builders import DEPLOYMENT, ChildKind, Owner, build_children, child_name, service_url
from ocr_operator.builders.configmap import render_config
from ocr_operator.builders.meta import config_hash
from ocr_operator.drift import drift_paths
from ocr_operator.jobs import (
    KedaDetector,
    apply_jobs_children,
    build_jobs_children,
    jobs_condition,
    previous_jobs_condition,
    slim_deployment,
    with_jobs_condition,
)
from ocr_operator.spec import API_VERSION, KIND, InvalidSpecError, OcrServiceSpec, parse_spec
from ocr_operator.status import (
    EventSpec,
    OcrServiceStatus,
    Problem,
    Rollout,
    carried_problem,
    compute_status,
    condition_events,
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


@dataclass(frozen=True)
class Outcome:
    """What a reconcile ended with: ``problem`` set means the spec must change before a retry helps."""

    problem: Problem | None = None


class Reconciler:
    """Drives OcrServices towards their spec; safe to call from kopf's handler threads."""

    def __init__(self, api: KubeApi, post_event: EventSink, clock: Callable[[], str] = utc_now) -> None:
        self.api = api
        self._post_event = post_event
        self._clock = clock
        self._guard = threading.Lock()
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._last_status: dict[str, dict[str, Any]] = {}
        self._last_line: dict[str, str] = {}
        self._last_deployment_version: dict[str, int] = {}
        self._keda = KedaDetector()
        self._jobs_seen: dict[str, dict[str, Any]] = {}  # uid → jobs Deployments last seen, by name
        self.reconciles = 0

    def _lock(self, uid: str) -> threading.Lock:
        with self._guard:
            return self._locks[uid]

    def forget(self, uid: str) -> None:
        """Drop the memory of a deleted OcrService."""
        with self._guard:
            self._locks.pop(uid, None)
            self._last_status.pop(uid, None)
            self._last_line.pop(uid, None)
            self._last_deployment_version.pop(uid, None)
            self._jobs_seen.pop(uid, None)

    # -- the full reconcile (owner events) -------------------------------------------------------

    def reconcile(self, body: Mapping[str, Any], live: LiveChildren) -> Outcome:
        """Bring every child of ``body`` to its desired state and report the status.

        Raises :class:`ApplyError` (not permanent) when the API failed in a way a retry may fix.
        """
        owner = Owner.from_body(body)
        with self._lock(owner.uid):
            with self._guard:
                self.reconciles += 1
            try:
                spec = parse_spec(body.get("spec"))
            except InvalidSpecError as err:
                problem = Problem("InvalidSpec", f"invalid spec: {err}")
                self._report(body, None, live.get(DEPLOYMENT), problem)
                return Outcome(problem)
            if spec.paused:
                log.info("%s/%s: paused, not applying changes", owner.namespace, owner.name)
                self._report(body, spec, live.get(DEPLOYMENT), None)
                return Outcome()
            try:
                applied = apply_children(self.api, owner, build_children(owner, spec), live, _autoscaling(spec))
                self._apply_jobs(body, owner, spec)
            except ApplyError as err:
                if err.namespace_terminating:
                    return Outcome()
                if not err.permanent:
                    raise
                problem = Problem("ApplyFailed", str(err))
                self._report(body, spec, live.get(DEPLOYMENT), problem)
                return Outcome(problem)
            self._is_fresh(owner, applied[DEPLOYMENT])
            self._report(body, spec, applied[DEPLOYMENT], None)
            return Outcome()

    # -- jobs: workers, Redis, scaling (see ocr_operator.jobs) ------------------------------------

    def _apply_jobs(self, body: Mapping[str, Any], owner: Owner, spec: OcrServiceSpec) -> None:
        """Apply (or remove) the jobs children; nothing at all for an OcrService that never had jobs."""
        cleanup = spec.jobs.enabled or previous_jobs_condition(self._previous(owner, body)) is not None
        if not cleanup:
            return
        live = apply_jobs_children(
            self.api,
            owner,
            spec,
            config_hash(render_config(spec, owner)),
            keda=self._keda(self.api),
            cleanup=cleanup,
        )
        with self._guard:
            self._jobs_seen[owner.uid] = {name: slim_deployment(obj) for name, obj in live.items()}

    def on_jobs_child_event(self, owner_body: Mapping[str, Any], name: str, child: Mapping[str, Any] | None) -> None:
        """A worker or Redis Deployment changed: recreate it if it was deleted, refresh ``JobsReady``."""
        owner = Owner.from_body(owner_body)
        with self._lock(owner.uid):
            try:
                spec = parse_spec(owner_body.get("spec"))
            except InvalidSpecError:
                return
            if not spec.jobs.enabled:
                return
            if child is None and not spec.paused:
                wanted = build_jobs_children(
                    owner, spec, config_hash(render_config(spec, owner)), keda=self._keda(self.api)
                )
                desired = next((c.desired for c in wanted if c.kind is DEPLOYMENT and c.name == name), None)
                if desired is not None:
                    try:
                        child = self.api.apply(DEPLOYMENT, desired)
                    except ApplyError as err:
                        log.warning("%s/%s: could not restore %s: %s", owner.namespace, owner.name, name, err)
                        return
                    log.warning("%s/%s: Deployment %s was deleted; recreated it", owner.namespace, owner.name, name)
            with self._guard:
                self._jobs_seen.setdefault(owner.uid, {})[name] = slim_deployment(child)
            previous = self._previous(owner, owner_body)
            if not previous:
                return  # the first full reconcile writes the whole status
            status = self._with_jobs(owner, spec, previous, OcrServiceStatus.model_validate(previous), owner_body)
            if status_changed(previous, status):
                patch = status.to_patch()
                self.api.patch_status(owner.namespace, owner.name, patch)
                self._last_status[owner.uid] = patch

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
        drifted from the spec, and refresh the status from the Deployment."""
        owner = Owner.from_body(owner_body)
        with self._lock(owner.uid):
            try:
                spec = parse_spec(owner_body.get("spec"))
            except InvalidSpecError:
                return  # the owner's own handler reported it; nothing to restore towards
            live = child
            if not spec.paused:
                try:
                    live = self._restore(owner, spec, kind, child)
                except ApplyError as err:
                    if err.namespace_terminating:
                        return
                    log.warning("%s/%s: could not restore %s: %s", owner.namespace, owner.name, kind.kind, err)
                    if err.permanent:
                        self._report(owner_body, spec, child, Problem("ApplyFailed", str(err)))
                    return
            if kind is DEPLOYMENT and self._is_fresh(owner, live):
                previous = self._previous(owner, owner_body)
                problem = carried_problem(previous, (owner_body.get("metadata") or {}).get("generation"))
                self._report(owner_body, spec, live, problem)

    def _restore(
        self, owner: Owner, spec: OcrServiceSpec, kind: ChildKind, child: Mapping[str, Any] | None
    ) -> Mapping[str, Any] | None:
        """Re-apply (or re-delete) one child when it no longer matches the spec; return it as it is now."""
        desired = build_children(owner, spec).by_kind()[kind]
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
        if child is None:
            reason, detail = "ChildRestored", f"{kind.kind} {name} was deleted; recreated it"
        else:
            paths = drift_paths(desired, child)
            if not paths:
                return child
            shown = ", ".join(paths[:5]) + (", ..." if len(paths) > 5 else "")
            reason, detail = "DriftCorrected", f"{kind.kind} {name} was changed by hand ({shown}); restored it"
        if kind is DEPLOYMENT:
            restored = apply_deployment(self.api, desired, child, _autoscaling(spec))
        else:
            restored = self.api.apply(kind, desired)
        log.warning("%s: %s", where, detail)
        self._post_event(self._owner_ref(owner), EventSpec("Warning", reason, detail))
        return restored

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

    def _report(
        self,
        body: Mapping[str, Any],
        spec: OcrServiceSpec | None,
        deployment: Mapping[str, Any] | None,
        problem: Problem | None,
    ) -> None:
        owner = Owner.from_body(body)
        previous = self._previous(owner, body)
        status = compute_status(
            generation=(body.get("metadata") or {}).get("generation"),
            deployment=deployment,
            previous=previous,
            url=service_url(owner, spec) if spec is not None else previous.get("url"),
            now=self._clock(),
            paused=bool(spec and spec.paused),
            problem=problem,
        )
        status = self._with_jobs(owner, spec, previous, status, body)
        if deployment is not None:
            self._log_rollout_step(owner, observe_rollout(deployment))
        if status_changed(previous, status):
            patch = status.to_patch()
            self.api.patch_status(owner.namespace, owner.name, patch)
            self._last_status[owner.uid] = patch
        for event in condition_events(previous, status):
            if event.type == "Warning":
                log.warning("%s/%s: %s: %s", owner.namespace, owner.name, event.reason, event.message)
            self._post_event(self._owner_ref(owner), event)
