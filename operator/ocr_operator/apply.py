"""I/O: server-side apply of the desired children with one field manager; delete disabled ones.

Why server-side apply: one request per child whether it exists or not, no read-modify-write races,
and the API server tracks which fields are ours: a hand edit of one of them is taken back by the
next apply (``force``), while fields other managers own (the HPA's ``replicas``) are left alone.

Transport: the kubernetes client's ``DynamicClient.request`` with resource paths built from
``ChildKind``, returning the raw JSON as plain dicts.  Why not the typed ``AppsV1Api`` & co.: in
current client releases each typed API class pulls in hundreds of pydantic models (about 30 MiB of
resident memory and a second of CPU for the five the operator would need), and the operator works
on dicts anyway.  Paths are fixed, so the dynamic client's API discovery is not used.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from ocr_operator.builders import DEPLOYMENT, ChildKind, Children, child_name
from ocr_operator.builders.meta import FIELD_MANAGER, Owner
from ocr_operator.errors import ApplyError, api_error
from ocr_operator.failures import ChildFailure
from ocr_operator.repair import apply_child
from ocr_operator.spec import GROUP, PLURAL, VERSION

log = logging.getLogger(__name__)

# Owns a Deployment's ``replicas`` only while it is handed over to the HPA (see ``_hand_over_replicas``).
HANDOVER_MANAGER = f"{FIELD_MANAGER}-hpa-handover"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
# How long a Deployment replacement (``replace_deployment``) waits for the old object to go.
REPLACE_WAIT_SECONDS = 10.0
REPLACE_POLL_SECONDS = 0.2
# (connect, read) seconds for each API request.
REQUEST_TIMEOUT = (10.0, 60.0)


def _read_json(resp: Any) -> tuple[int, dict[str, Any]]:
    """HTTP status and body of a raw response; hands the connection back to the pool, which urllib3
    does not do on its own for unpreloaded responses (each call would open a new TLS connection)."""
    try:
        data = resp.data
    finally:
        resp.release_conn()
    return int(getattr(resp, "status", 200) or 200), (json.loads(data) if data else {})


def collection_path(kind: ChildKind, namespace: str) -> str:
    """``/apis/apps/v1/namespaces/NS/deployments`` (core kinds live under ``/api/v1``)."""
    prefix = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    return f"{prefix}/namespaces/{namespace}/{kind.plural}"


def object_path(kind: ChildKind, namespace: str, name: str) -> str:
    """``/apis/apps/v1/namespaces/NS/deployments/NAME``."""
    return f"{collection_path(kind, namespace)}/{name}"


EVENT = ChildKind("", "v1", "Event", "events")
OCRSERVICE_STATUS = (GROUP, f"{PLURAL}/status")


class _NoDiscovery:
    """The dynamic client's discoverer, unused: every request names its path."""

    def __init__(self, *_: Any) -> None:
        pass


@dataclass
class KubeApi:
    """The handful of API calls the operator makes, counted (the benchmark reports requests per
    reconcile) and returning plain dicts."""

    api_client: client.ApiClient
    field_manager: str = FIELD_MANAGER
    requests: int = 0
    # Every (API group, resource, RBAC verb) this client has exercised: the RBAC test compares it
    # with the chart's ClusterRole (``ocr_operator.permissions``).
    used: set[tuple[str, str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _dynamic: DynamicClient | None = field(default=None, repr=False)

    def _count(self, group: str = "", resource: str = "", verb: str = "") -> None:
        with self._lock:
            self.requests += 1
            if verb:
                self.used.add((group, resource, verb))

    def _record(self, group: str, resource: str, verb: str) -> None:
        with self._lock:
            self.used.add((group, resource, verb))

    def _request(self, method: str, path: str, **params: Any) -> tuple[int, dict[str, Any]]:
        """One request with a deadline: a connection the API server never answers must not hold a
        handler thread (and the OcrService's lock) forever; it becomes a retryable error instead."""
        return _read_json(self._raw(method, path, **params))

    def _raw(self, method: str, path: str, **params: Any) -> Any:
        """The request as an unread urllib3 response (the caller reads and releases it)."""
        with self._lock:
            self.requests += 1
            if self._dynamic is None:
                self._dynamic = DynamicClient(self.api_client, discoverer=_NoDiscovery)
            dynamic = self._dynamic
        timeout = params.pop("_request_timeout", REQUEST_TIMEOUT)
        try:
            return dynamic.request(method, path, serialize=False, _request_timeout=timeout, **params)
        except urllib3.exceptions.HTTPError as err:
            raise ApiException(status=0, reason=f"no answer from the API server: {err}") from err

    def apply(
        self, kind: ChildKind, manifest: Mapping[str, Any], *, manager: str | None = None, force: bool = True
    ) -> dict[str, Any]:
        """Server-side apply ``manifest``; returns the live object.  (RBAC: patch, and create when
        the object did not exist: the API server answers 201 then.)"""
        meta = manifest["metadata"]
        self._record(kind.group, kind.plural, "patch")
        try:
            code, obj = self._request(
                "patch",
                object_path(kind, meta["namespace"], meta["name"]),
                body=dict(manifest),
                content_type=APPLY_CONTENT_TYPE,
                field_manager=manager or self.field_manager,
                force_conflicts=force,
            )
        except ApiException as err:
            raise api_error(f"apply {kind.kind} {meta['namespace']}/{meta['name']}", err) from err
        if code == 201:
            self._record(kind.group, kind.plural, "create")
        return obj

    def merge_patch(self, kind: ChildKind, manifest: Mapping[str, Any], *, manager: str) -> dict[str, Any]:
        """JSON merge patch with ``manifest``: maps merge, but every list in it *replaces* the live
        list whole (unlike apply, which merges lists by key; see ``repair``)."""
        meta = manifest["metadata"]
        self._record(kind.group, kind.plural, "patch")
        try:
            return self._request(
                "patch",
                object_path(kind, meta["namespace"], meta["name"]),
                body=dict(manifest),
                content_type=MERGE_PATCH,
                field_manager=manager,
            )[1]
        except ApiException as err:
            raise api_error(f"patch {kind.kind} {meta['namespace']}/{meta['name']}", err) from err

    def dry_run_create(self, kind: ChildKind, manifest: Mapping[str, Any]) -> None:
        """Validate ``manifest`` as a new object without storing it.  The API server validates before
        it checks for an existing object, so 409 (AlreadyExists) means "valid"; raises otherwise."""
        meta = manifest["metadata"]
        self._record(kind.group, kind.plural, "create")
        try:
            self._request(
                "post",
                collection_path(kind, meta["namespace"]),
                body=dict(manifest),
                dry_run="All",
                field_manager=self.field_manager,
            )
        except ApiException as err:
            raise api_error(f"validate {kind.kind} {meta['namespace']}/{meta['name']}", err) from err

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> None:
        """Post a core/v1 Event."""
        self._record(EVENT.group, EVENT.plural, "create")
        try:
            self._request("post", collection_path(EVENT, namespace), body=dict(event))
        except ApiException as err:
            raise api_error(f"post Event in {namespace}", err) from err

    def delete(
        self, kind: ChildKind, namespace: str, name: str, *, orphan: bool = False, uid: str | None = None
    ) -> bool:
        """Delete a child; ``False`` when it was already gone.  ``orphan``: leave its dependents (a
        Deployment's ReplicaSets) in place; ``uid``: only if it is still that object."""
        options: dict[str, Any] = {}
        if orphan:
            options["propagationPolicy"] = "Orphan"
        if uid:
            options["preconditions"] = {"uid": uid}
        params = {"body": {"apiVersion": "v1", "kind": "DeleteOptions", **options}} if options else {}
        self._record(kind.group, kind.plural, "delete")
        try:
            self._request("delete", object_path(kind, namespace, name), **params)
        except ApiException as err:
            if err.status == 404:
                return False
            raise api_error(f"delete {kind.kind} {namespace}/{name}", err) from err
        return True

    def get(self, kind: ChildKind, namespace: str, name: str) -> dict[str, Any] | None:
        """Read a child, ``None`` when absent."""
        self._record(kind.group, kind.plural, "get")
        try:
            return self._request("get", object_path(kind, namespace, name))[1]
        except ApiException as err:
            if err.status == 404:
                return None
            raise api_error(f"read {kind.kind} {namespace}/{name}", err) from err

    def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The pods matching a label selector (the canary analysis finds each track's pods)."""
        self._record("", "pods", "list")
        try:
            return (
                self._request("get", f"/api/v1/namespaces/{namespace}/pods", label_selector=selector)[1].get("items")
                or []
            )
        except ApiException as err:
            raise api_error(f"list pods in {namespace} ({selector})", err) from err

    def pod_get(self, namespace: str, pod: str, port: int, path: str, timeout: float = 5.0) -> str:
        """GET ``path`` on a pod's port through the API server's pod proxy (``pods/proxy``); the body
        as text.  Why the proxy: it reaches the pod wherever the operator runs (in the cluster, or
        outside it as in development and the tests), and pod NetworkPolicies need not admit it."""
        self._record("", "pods/proxy", "get")
        try:
            resp = self._raw(
                "get",
                f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}",
                _request_timeout=(5.0, timeout),
            )
        except ApiException as err:
            raise api_error(f"GET {path} of pod {namespace}/{pod}", err) from err
        try:
            return bytes(resp.data).decode("utf-8", errors="replace")
        finally:
            resp.release_conn()

    def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Merge-patch the OcrService's status subresource (lists such as conditions are replaced whole)."""
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status"
        self._record(*OCRSERVICE_STATUS, "patch")
        try:
            self._request("patch", path, body={"status": dict(status)}, content_type=MERGE_PATCH)
        except ApiException as err:
            if err.status == 404:  # the OcrService is being deleted: nothing to report on
                return
            raise api_error(f"patch status of {namespace}/{name}", err) from err


def owns_replicas(deployment: Mapping[str, Any], manager: str = FIELD_MANAGER) -> bool:
    """Whether ``manager``'s apply owns ``spec.replicas`` (read from ``metadata.managedFields``)."""
    for entry in (deployment.get("metadata") or {}).get("managedFields") or []:
        owned = (entry.get("fieldsV1") or {}).get("f:spec") or {}
        if entry.get("manager") == manager and entry.get("operation") == "Apply" and "f:replicas" in owned:
            return True
    return False


def _hand_over_replicas(api: KubeApi, desired: Mapping[str, Any], replicas: int) -> None:
    """Give ``spec.replicas`` a second owner before our apply drops it.

    With server-side apply, a field that its only owner stops applying is *removed*, so the
    Deployment would fall back to 1 replica until the HPA notices (the documented HPA hand-over
    problem). A separate manager that keeps applying the current count bridges the gap; the HPA's
    first scale takes the field from it.
    """
    meta = desired["metadata"]
    body = {
        "apiVersion": desired["apiVersion"],
        "kind": desired["kind"],
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": {"replicas": replicas},
    }
    try:
        api.apply(DEPLOYMENT, body, manager=HANDOVER_MANAGER, force=False)
    except ApplyError as err:
        # A conflict means another manager (the HPA) already owns it with another value: fine.
        if err.status != 409:
            raise


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def selector_changed(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> bool:
    """Whether the live Deployment's (immutable) selector differs from the desired one.  ``False``
    when ``live`` does not show its selector (a copy without ``spec.selector`` is not evidence)."""
    have = ((live or {}).get("spec") or {}).get("selector")
    return have is not None and have != desired["spec"]["selector"]


def replace_deployment(api: KubeApi, desired: Mapping[str, Any], live: Mapping[str, Any]) -> None:
    """Delete a Deployment whose selector must change (``spec.selector`` is immutable, so apply
    cannot), keeping its ReplicaSets and pods, and wait until it is gone.

    The orphaned ReplicaSets keep serving (the Service selects the stable labels both generations of
    pods carry); the Deployment applied next selects them too, adopts them and rolls them over to the
    new pod template like any other change (maxUnavailable 0).  This is how Deployments created by an
    operator version that selected on ``app.kubernetes.io/name=ocr-crnn`` move to the new selector.
    Raises a retryable :class:`ApplyError` if the deletion takes longer than ``REPLACE_WAIT_SECONDS``
    (its deletion event then brings the drift watch back to create the new one).
    """
    meta = live["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    if not meta.get("deletionTimestamp"):
        log.warning(
            "%s/%s: replacing the Deployment to change its immutable selector from %s to %s (pods keep running)",
            namespace,
            name,
            _match_labels(live),
            _match_labels(desired),
        )
        api.delete(DEPLOYMENT, namespace, name, orphan=True, uid=meta.get("uid"))
    deadline = time.monotonic() + REPLACE_WAIT_SECONDS
    while not _replaced(api, namespace, name, meta.get("uid")):
        if time.monotonic() >= deadline:
            raise ApplyError(f"Deployment {namespace}/{name} is still being replaced; retrying", permanent=False)
        time.sleep(REPLACE_POLL_SECONDS)


def _replaced(api: KubeApi, namespace: str, name: str, uid: str | None) -> bool:
    """Whether the Deployment with ``uid`` is gone (absent, or another object under its name)."""
    current = api.get(DEPLOYMENT, namespace, name)
    return current is None or (uid is not None and (current.get("metadata") or {}).get("uid") != uid)


def _match_labels(deployment: Mapping[str, Any]) -> str:
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "{}"


def apply_deployment(
    api: KubeApi,
    desired: Mapping[str, Any],
    live: Mapping[str, Any] | None,
    autoscaling: tuple[int, int] | None,
    repaired: list[ChildKind] | None = None,
) -> dict[str, Any]:
    """Apply the Deployment; ``autoscaling`` is ``(minReplicas, maxReplicas)`` when the HPA owns replicas.
    A live Deployment with another selector is replaced first (see ``replace_deployment``); one that
    apply cannot bring back is repaired (``repair.apply_child``), as a last resort replaced the same way."""
    meta = desired["metadata"]
    fresh = False
    if autoscaling is not None and live is None:
        # The watch cache may lag; reading once avoids dropping replicas we still own (see above).
        live, fresh = api.get(DEPLOYMENT, meta["namespace"], meta["name"]), True
    replaced: list[Mapping[str, Any]] = []

    def recreate(old: Mapping[str, Any]) -> None:
        replace_deployment(api, desired, old)
        replaced.append(old)

    if live is not None and selector_changed(desired, live):
        if not fresh:  # a stale event may show the Deployment a replacement already deleted
            live = api.get(DEPLOYMENT, meta["namespace"], meta["name"])
        if live is not None and selector_changed(desired, live):
            recreate(live)
            live = None
    if autoscaling is None:
        return apply_child(api, DEPLOYMENT, desired, recreate=recreate, repaired=repaired)
    low, high = autoscaling
    if live is not None and owns_replicas(live):
        current = int((live.get("spec") or {}).get("replicas") or low)
        _hand_over_replicas(api, desired, _clamp(current, low, high))
        return apply_child(api, DEPLOYMENT, desired, recreate=recreate, repaired=repaired)
    applied = apply_child(api, DEPLOYMENT, desired, recreate=recreate, repaired=repaired)
    if live is None or replaced:
        # Born without replicas (defaulted to 1): start at minReplicas instead of waiting for the HPA;
        # replacing a Deployment, at the count it had.
        start = low
        if replaced:
            start = _clamp(int((replaced[-1].get("spec") or {}).get("replicas") or low), low, high)
        _hand_over_replicas(api, desired, start)
        applied.setdefault("spec", {})["replicas"] = start
    return applied


@dataclass
class ApplyResult:
    """What ``apply_children`` left: each child as it is now (``None``: absent), what failed, and
    which children had been edited by hand in a way apply alone could not undo (``repair``)."""

    live: dict[ChildKind, dict[str, Any] | None]
    failures: list[ChildFailure]
    repaired: list[ChildKind] = field(default_factory=list)


def apply_children(
    api: KubeApi,
    owner: Owner,
    children: Children,
    live: Mapping[ChildKind, Mapping[str, Any] | None],
    autoscaling: tuple[int, int] | None,
) -> ApplyResult:
    """Apply every enabled child and delete every disabled one that exists.

    A child the API server refuses is recorded and the next one is still applied: a broken Service
    must not keep the Deployment at an old spec.  Only a terminating namespace stops the loop (raised:
    nothing there is worth applying or reporting)."""
    result: dict[ChildKind, dict[str, Any] | None] = {}
    failures: list[ChildFailure] = []
    repaired: list[ChildKind] = []
    for kind, desired in children.by_kind().items():
        current = live.get(kind)
        name = child_name(owner, kind)
        try:
            if desired is None:
                if current is not None:
                    api.delete(kind, owner.namespace, name)
                    log.info("%s/%s: deleted %s (disabled in the spec)", owner.namespace, owner.name, kind.kind)
                result[kind] = None
            elif kind is DEPLOYMENT:
                result[kind] = apply_deployment(api, desired, current, autoscaling, repaired)
            else:
                result[kind] = apply_child(api, kind, desired, repaired=repaired)
        except ApplyError as err:
            if err.namespace_terminating:
                raise
            failures.append(ChildFailure(kind.kind, name, str(err), err.permanent))
            result[kind] = dict(current) if current is not None else None
    return ApplyResult(result, failures, repaired)
