"""kopf registrations only: what the operator reacts to, and which ``Reconciler`` method handles it.

- ``OcrService`` resume/create/update → :meth:`Reconciler.reconcile` (the full build → apply → status);
  an invalid spec ends in ``kopf.PermanentError`` (reported as ``Degraded``; no retries until the
  spec changes), an API hiccup in ``kopf.TemporaryError`` (retried with a delay).
- Every child kind → :meth:`Reconciler.on_child_event`: level-based reconciliation, so a
  hand-deleted or hand-edited child is restored and Deployment progress updates the status without
  any timer.  Children are recognised by their controller owner reference (an OcrService), not by a
  label: the watches are not label-filtered, because a label is one ``kubectl label ...-`` away from
  hiding a child from a filtered watch; a child that lost its labels gets them back.  The jobs children
  (``spec.jobs``: worker/Redis Deployments, Redis Service, worker HPA, and the two kinds only jobs use,
  the Redis PVC and the KEDA ScaledObject) go to :meth:`Reconciler.on_jobs_child_event` instead.  The
  ScaledObject is watched only while the cluster serves it: kopf starts and stops that watch as KEDA's
  CRD comes and goes.  Neither jobs-only kind is indexed (nothing reads them from an index), which
  also keeps an optional CRD out of kopf's index gate (see :mod:`ocr_operator.watchdog`).
- Events: kopf's own posting is off (one Event per retry, errors in terminating namespaces); the
  operator posts the Events it decides on through :class:`~ocr_operator.events.EventRecorder`.
- ``OcrService`` with ``spec.canary``: a kopf timer drives :meth:`Reconciler.canary_tick` (the canary's
  progress deadline and its metrics analysis; see ``ocr_operator.canary``).  Canary children (its
  Deployment, the per-track Services, the canary Ingress) go to :meth:`Reconciler.on_canary_child_event`.
- kopf indexes keep the OcrServices and children in memory (fed by the same watches), so a child
  event finds its owner and the reconcile knows what exists without extra API reads.
- A :class:`~ocr_operator.watchdog.Watchdog` checks that every indexed event reaches its handlers;
  when kopf stops handing them over, the ``/healthz`` probe fails and the kubelet restarts the operator.

Run with ``kopf run -m ocr_operator.handlers`` (the Helm chart does) or ``python -m ocr_operator``.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from ocr_operator.apply import ApplyError, KubeApi
from ocr_operator.builders import CHILD_KINDS, JOBS_ONLY_KINDS, ChildKind, Owner, child_name
from ocr_operator.canary.children import is_canary_child
from ocr_operator.catalog import BUNDLED_MODELS_ENV, ModelCatalog
from ocr_operator.events import EventRecorder
from ocr_operator.jobs import is_jobs_child
from ocr_operator.reconcile import Reconciler
from ocr_operator.spec import API_VERSION, GROUP, KIND, PLURAL, VERSION
from ocr_operator.status import TERMINATING_OLD_PODS
from ocr_operator.watchdog import Watchdog, stall_limit

log = logging.getLogger("ocr_operator")

OWNER = {"group": GROUP, "version": VERSION, "plural": PLURAL}
# Handler threads: enough to apply many OcrServices at once without starving a 2-core node.
MAX_WORKERS = 8
# Back-off of a failed reconcile: 5 s, 10 s, 20 s, ... up to 5 minutes (no retry storm on a quota).
RETRY_DELAY_SECONDS = 5
MAX_RETRY_DELAY_SECONDS = 300
# How often the canary loop looks at an OcrService with a canary: the progress deadline is checked on
# every tick, an analysis runs when its spec.canary.analysis.intervalSeconds have passed.
CANARY_TICK_SECONDS = 2.0
# How often a completed rollout looks again for the old model's terminating pods.
SETTLE_TICK_SECONDS = 2.0


def retry_delay(retry: int) -> float:
    """Seconds before retry number ``retry`` (0-based) of a reconcile that failed transiently."""
    return float(min(MAX_RETRY_DELAY_SECONDS, RETRY_DELAY_SECONDS * 2 ** min(retry, 16)))


def _index_name(kind: ChildKind) -> str:
    return f"{kind.plural}_by_owner"


def _api_client() -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the kubeconfig ($KUBECONFIG)."""
    cfg = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=cfg)
    except ConfigException:
        config.load_kube_config(client_configuration=cfg)
    cfg.connection_pool_maxsize = MAX_WORKERS + 4
    return client.ApiClient(cfg)


def _snapshot(body: Mapping[str, Any]) -> dict[str, Any]:
    """A plain, detached copy of an object (kopf's ``Body`` is a live view; other threads and the
    indexes need a stable copy).  managedFields are dropped except on Deployments, where the HPA
    replicas hand-over reads them."""
    data = copy.deepcopy(dict(body))
    meta = data.get("metadata") or {}
    if data.get("kind") != "Deployment":
        meta.pop("managedFields", None)
    return data


def _controller_uid(body: Mapping[str, Any]) -> str | None:
    """UID of the OcrService that controls this child, if any."""
    for ref in (body.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == KIND and ref.get("apiVersion") == API_VERSION:
            return ref.get("uid")
    return None


def _owned(body: Mapping[str, Any], **_: Any) -> bool:
    """kopf ``when=`` filter: only children an OcrService controls reach the index and handler."""
    return _controller_uid(body) is not None


def _first(store: Any) -> dict[str, Any] | None:
    return next(iter(store), None) if store else None


def _live_children(owner: Owner, indexes: Mapping[str, Any]) -> dict[ChildKind, dict[str, Any] | None]:
    """The children of ``owner`` as last seen by the watches (name-checked: a stray object carrying
    our labels and owner reference under another name is not ours to manage)."""
    live: dict[ChildKind, dict[str, Any] | None] = {}
    for kind in CHILD_KINDS:
        store = indexes[_index_name(kind)].get(owner.uid) or []
        wanted = child_name(owner, kind)
        live[kind] = next((obj for obj in store if obj["metadata"]["name"] == wanted), None)
    return live


# Suffixes of the on-event handler ids: kopf logs "Handler '<id>' succeeded." for each event.
DRIFT_SUFFIX, SEEN_SUFFIX = "_drift", "_seen"


class _QuietChildEvents(logging.Filter):
    """Drop kopf's "Handler '<kind>_drift' succeeded." (and ``_seen``) lines: they fire on every
    child status update (each pod becoming ready) and would bury the one-line-per-rollout-step log;
    and the canary timer's "Timer 'canary_analysis' succeeded." (every tick; the analysis logs its own
    line per verdict)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message == "Timer 'canary_analysis' succeeded.":
            return False
        return not (
            message.startswith("Handler '")
            and message.endswith((f"{DRIFT_SUFFIX}' succeeded.", f"{SEEN_SUFFIX}' succeeded."))
        )


_SELECTOR = re.compile(r"Selector\(([^)]*)\)")


class _OptionalKedaNote(logging.Filter):
    """kopf warns "Unresolved resources cannot be served" for a handler whose resource the cluster
    lacks, at every CRD change.  Without KEDA that is the expected state of the ScaledObject watch
    (it starts when KEDA's CRD appears): an INFO note, so a WARNING still means something."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno == logging.WARNING and message.startswith("Unresolved resources cannot be served"):
            listed = message.split(":", 1)[-1]  # "Selector(group='keda.sh', ...)" or "scaledobjects...keda.sh"
            names = _SELECTOR.findall(listed) or [n.strip() for n in listed.split(",") if n.strip()]
            if names and all("keda.sh" in n for n in names):
                record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _add_filter(logger_name: str, flt: logging.Filter) -> None:
    logger = logging.getLogger(logger_name)
    if not any(type(f) is type(flt) for f in logger.filters):
        logger.addFilter(flt)


def _quiet_child_events() -> None:
    _add_filter("kopf.objects", _QuietChildEvents())
    _add_filter("kopf._core.reactor.observation", _OptionalKedaNote())


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Operator-wide settings, and the one Reconciler shared by all handlers."""
    # Keep kopf's bookkeeping in annotations: the status schema is ours and prunes unknown fields.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    # No automatic Events: the operator posts its own, one per distinct change (see ocr_operator.events).
    settings.posting.enabled = False
    settings.execution.max_workers = MAX_WORKERS
    # Re-establish watches now and then: a silently dead connection would stop drift detection.
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 630
    # kopf waits for the echo of its own annotation patch before handling the object's next event;
    # with hundreds of objects on a busy API server the echo can take longer than the 5 s default,
    # and a stale event without the annotation would look like a new creation (a second reconcile).
    settings.persistence.consistency_timeout = 30
    _quiet_child_events()
    api = KubeApi(_api_client())
    catalog = ModelCatalog.parse(os.environ.get(BUNDLED_MODELS_ENV))
    memo.reconciler = Reconciler(api, post_event=EventRecorder(api), catalog=catalog)
    memo.watchdog = Watchdog(stall_limit(os.environ))


def _what(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata") or {}
    return f"{body.get('kind')} {meta.get('namespace')}/{meta.get('name')}"


@kopf.index(**OWNER)
def ocrservices_by_uid(body: kopf.Body, meta: kopf.Meta, memo: kopf.Memo, **_: Any) -> dict[str, dict[str, Any]]:
    """OcrServices by UID: a child event finds its owner's spec here."""
    snapshot = _snapshot(body)
    memo.watchdog.seen(meta["uid"], _what(snapshot))
    return {meta["uid"]: snapshot}


def _slim_child(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the reconcile reads of a child it did not just apply: its name (to delete a disabled
    one), and for the Deployment what the status, the HPA hand-over and a selector change need.
    Keeping only that holds the operator's memory flat as OcrServices add up."""
    meta = body.get("metadata") or {}
    keep = ("name", "namespace", "uid", "generation", "resourceVersion", "deletionTimestamp")
    slim: dict[str, Any] = {"kind": body.get("kind"), "metadata": {k: meta[k] for k in keep if k in meta}}
    if body.get("kind") == "Deployment":
        spec = body.get("spec") or {}
        template_meta = (spec.get("template") or {}).get("metadata") or {}
        slim["metadata"]["managedFields"] = copy.deepcopy(meta.get("managedFields") or [])
        slim["spec"] = {"template": {"metadata": {"annotations": dict(template_meta.get("annotations") or {})}}}
        if "selector" in spec:
            slim["spec"]["selector"] = copy.deepcopy(spec["selector"])
        if "replicas" in spec:
            slim["spec"]["replicas"] = spec["replicas"]
        slim["status"] = copy.deepcopy(dict(body.get("status") or {}))
    return slim


def _index_child(body: kopf.Body, memo: kopf.Memo, **_: Any) -> dict[str, dict[str, Any]] | None:
    uid = _controller_uid(body)
    if not uid:
        return None
    slim = _slim_child(body)
    memo.watchdog.seen(slim["metadata"]["uid"], _what(slim))
    return {uid: slim}


for _kind in CHILD_KINDS:
    kopf.index(group=_kind.group, version=_kind.version, plural=_kind.plural, when=_owned, id=_index_name(_kind))(
        _index_child
    )


async def _seen(uid: str | None, memo: kopf.Memo, **_: Any) -> None:
    """The first on-event handler of every indexed kind (kopf runs them in registration order, on the
    event loop): the event got past kopf's index gate (see :mod:`ocr_operator.watchdog`)."""
    if uid:
        memo.watchdog.handled(uid)


# Same filters as the indexes above, so that every indexed event has a handler that crosses it out.
kopf.on.event(**OWNER, id=f"{PLURAL}{SEEN_SUFFIX}")(_seen)
for _kind in CHILD_KINDS:
    kopf.on.event(
        group=_kind.group, version=_kind.version, plural=_kind.plural, when=_owned, id=f"{_kind.plural}{SEEN_SUFFIX}"
    )(_seen)


@kopf.on.resume(**OWNER)
@kopf.on.create(**OWNER)
@kopf.on.update(**OWNER)
def reconcile_ocrservice(body: kopf.Body, memo: kopf.Memo, retry: int = 0, **kwargs: Any) -> None:
    """Full reconcile on start-up, creation and every spec change.  A failure a retry may fix is
    retried with back-off (the status already says what failed); one that needs a spec change ends
    the handler, and a later change of the spec or of the failed child tries again."""
    snapshot = _snapshot(body)
    owner = Owner.from_body(snapshot)
    try:
        outcome = memo.reconciler.reconcile(snapshot, _live_children(owner, kwargs))
    except ApplyError as err:
        raise kopf.TemporaryError(str(err), delay=retry_delay(retry)) from err
    if outcome.problem is not None:
        raise kopf.PermanentError(f"{outcome.problem.reason}: {outcome.problem.message}")


@kopf.on.delete(**OWNER, optional=True)
def forget_ocrservice(meta: kopf.Meta, memo: kopf.Memo, **_: Any) -> None:
    """No finalizer needed: owner references let the garbage collector delete the children."""
    memo.reconciler.forget(meta["uid"])
    log.info("%s/%s: deleted; the garbage collector removes its children", meta["namespace"], meta["name"])


def _child_handler(kind: ChildKind) -> Any:
    def on_child_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
        uid = _controller_uid(body)
        owner_body = _first(kwargs["ocrservices_by_uid"].get(uid)) if uid else None
        if owner_body is None or (owner_body.get("metadata") or {}).get("deletionTimestamp"):
            return  # not ours, or its owner is going away (the garbage collector is at work)
        owner = Owner.from_body(owner_body)
        name = body.get("metadata", {}).get("name")
        if is_jobs_child(owner, kind, name):  # spec.jobs: Redis PVC/Service/Deployment, workers and their scaler
            child = None if event.get("type") == "DELETED" else _snapshot(body)
            memo.reconciler.on_jobs_child_event(owner_body, name, child, kind)
            return
        if is_canary_child(owner, kind, name):  # spec.canary: its Deployment, track Services, canary Ingress
            child = None if event.get("type") == "DELETED" else _snapshot(body)
            memo.reconciler.on_canary_child_event(owner_body, kind, name, child)
            return
        if kind not in CHILD_KINDS or name != child_name(owner, kind):
            return
        child = None if event.get("type") == "DELETED" else _snapshot(body)
        memo.reconciler.on_child_event(owner_body, kind, child)

    on_child_event.__name__ = on_child_event.__qualname__ = f"on_{kind.plural}_event"
    return on_child_event


for _kind in (*CHILD_KINDS, *JOBS_ONLY_KINDS):
    kopf.on.event(
        group=_kind.group,
        version=_kind.version,
        plural=_kind.plural,
        when=_owned,
        id=f"{_kind.plural}{DRIFT_SUFFIX}",
    )(_child_handler(_kind))


def _has_canary(spec: kopf.Spec, **_: Any) -> bool:
    return bool(spec.get("canary"))


@kopf.timer(**OWNER, interval=CANARY_TICK_SECONDS, when=_has_canary, id="canary_analysis")
def canary_analysis(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """The canary loop (only for OcrServices with ``spec.canary``): progress deadline, analysis of both
    tracks' metrics, automatic rollback.  Returns nothing, so kopf writes nothing to the object."""
    memo.reconciler.canary_tick(_snapshot(body))


def _old_pods_terminating(status: kopf.Status, **_: Any) -> bool:
    return any(
        c.get("type") == "Progressing" and c.get("reason") == TERMINATING_OLD_PODS
        for c in status.get("conditions") or []
    )


@kopf.timer(**OWNER, interval=SETTLE_TICK_SECONDS, when=_old_pods_terminating, id="old_pods")
def old_pods(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """While a completed rollout waits for the old model's pods to terminate (their going changes no
    Deployment, so no event says so), look again every few seconds and switch ``status.model`` once
    they are gone.  Returns nothing, so kopf writes nothing to the object."""
    memo.reconciler.settle_tick(_snapshot(body))


@kopf.on.probe(id="reconciler")
def reconciler_stats(memo: kopf.Memo, **_: Any) -> dict[str, int]:
    """Liveness probe payload: proves the handler threads and the memo are alive; the benchmark
    reads API requests per reconcile from it."""
    reconciler: Reconciler | None = getattr(memo, "reconciler", None)
    if reconciler is None:
        return {"reconciles": 0, "apiRequests": 0}
    return {"reconciles": reconciler.reconciles, "apiRequests": reconciler.api.requests}


@kopf.on.probe(id="watchdog")
async def watchdog_probe(memo: kopf.Memo, **_: Any) -> dict[str, int]:
    """Fails the liveness endpoint (HTTP 500) while indexed events do not reach their handlers: the
    operator would otherwise look healthy while it reconciles nothing (see ``ocr_operator.watchdog``)."""
    watchdog: Watchdog | None = getattr(memo, "watchdog", None)
    if watchdog is None:
        return {"pendingEvents": 0}
    stall = watchdog.stalled()
    if stall is not None:
        log.error("%s", stall.message)
        raise kopf.PermanentError(stall.message)
    return {"pendingEvents": watchdog.pending}


@kopf.on.probe(id="apiCalls")
def api_calls(memo: kopf.Memo, **_: Any) -> list[str]:
    """Every ``group/resource:verb`` the operator's own client used so far: the RBAC test checks the
    chart grants each of them (``ocr_operator.permissions``)."""
    reconciler: Reconciler | None = getattr(memo, "reconciler", None)
    if reconciler is None:
        return []
    return sorted(f"{g}/{r}:{v}" for g, r, v in reconciler.api.used)
