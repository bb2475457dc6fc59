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

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from ocr_operator.builders import DEPLOYMENT, ChildKind, Children, child_name
from ocr_operator.builders.meta import FIELD_MANAGER, Owner
from ocr_operator.spec import GROUP, PLURAL, VERSION

log = logging.getLogger(__name__)

# Owns a Deployment's ``replicas`` only while it is handed over to the HPA (see ``_hand_over_replicas``).
HANDOVER_MANAGER = f"{FIELD_MANAGER}-hpa-handover"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
# How long a Deployment replacement (``replace_deployment``) waits for the old object to go.
REPLACE_WAIT_SECONDS = 10.0
REPLACE_POLL_SECONDS = 0.2


class ApplyError(Exception):
    """An API call failed. ``permanent``: the request itself is wrong (the spec must change), so
    retrying would only storm the API server; otherwise a later retry may succeed."""

    def __init__(
        self, message: str, *, permanent: bool, status: int | None = None, namespace_terminating: bool = False
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        # The namespace is being deleted with everything in it: nothing to restore, nothing to report.
        self.namespace_terminating = namespace_terminating


def _read_json(resp: Any) -> dict[str, Any]:
    """Body of a raw response; hands the connection back to the pool, which urllib3 does not do on
    its own for unpreloaded responses (each call would open a new TLS connection otherwise)."""
    try:
        data = resp.data
    finally:
        resp.release_conn()
    return json.loads(data) if data else {}


def _api_error(action: str, err: ApiException) -> ApplyError:
    detail, causes = err.reason or "", []
    try:
        body = json.loads(err.body or "{}")
        detail = body.get("message") or detail
        causes = (body.get("details") or {}).get("causes") or []
    except (TypeError, ValueError, AttributeError):
        pass
    terminating = any(c.get("reason") == "NamespaceTerminating" for c in causes)
    # 400/422: the object is invalid; 403: not allowed. Neither improves by retrying the same request.
    permanent = err.status in (400, 403, 422) and not terminating
    return ApplyError(
        f"{action}: {err.status} {detail}".strip(),
        permanent=permanent,
        status=err.status,
        namespace_terminating=terminating,
    )


def object_path(kind: ChildKind, namespace: str, name: str) -> str:
    """``/apis/apps/v1/namespaces/NS/deployments/NAME`` (core kinds live under ``/api/v1``)."""
    prefix = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    return f"{prefix}/namespaces/{namespace}/{kind.plural}/{name}"


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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _dynamic: DynamicClient | None = field(default=None, repr=False)

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    def _request(self, method: str, path: str, **params: Any) -> dict[str, Any]:
        self._count()
        with self._lock:
            if self._dynamic is None:
                self._dynamic = DynamicClient(self.api_client, discoverer=_NoDiscovery)
            dynamic = self._dynamic
        return _read_json(dynamic.request(method, path, serialize=False, **params))

    def apply(
        self, kind: ChildKind, manifest: Mapping[str, Any], *, manager: str | None = None, force: bool = True
    ) -> dict[str, Any]:
        """Server-side apply ``manifest``; returns the live object."""
        meta = manifest["metadata"]
        try:
            return self._request(
                "patch",
                object_path(kind, meta["namespace"], meta["name"]),
                body=dict(manifest),
                content_type=APPLY_CONTENT_TYPE,
                field_manager=manager or self.field_manager,
                force_conflicts=force,
            )
        except ApiException as err:
            raise _api_error(f"apply {kind.kind} {meta['namespace']}/{meta['name']}", err) from err

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
        try:
            self._request("delete", object_path(kind, namespace, name), **params)
        except ApiException as err:
            if err.status == 404:
                return False
            raise _api_error(f"delete {kind.kind} {namespace}/{name}", err) from err
        return True

    def get(self, kind: ChildKind, namespace: str, name: str) -> dict[str, Any] | None:
        """Read a child, ``None`` when absent."""
        try:
            return self._request("get", object_path(kind, namespace, name))
        except ApiException as err:
            if err.status == 404:
                return None
            raise _api_error(f"read {kind.kind} {namespace}/{name}", err) from err

    def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Merge-patch the OcrService's status subresource (lists such as conditions are replaced whole)."""
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status"
        try:
            self._request("patch", path, body={"status": dict(status)}, content_type=MERGE_PATCH)
        except ApiException as err:
            if err.status == 404:  # the OcrService is being deleted: nothing to report on
                return
            raise _api_error(f"patch status of {namespace}/{name}", err) from err


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
) -> dict[str, Any]:
    """Apply the Deployment; ``autoscaling`` is ``(minReplicas, maxReplicas)`` when the HPA owns replicas.
    A live Deployment with another selector is replaced first (see ``replace_deployment``)."""
    meta = desired["metadata"]
    fresh = False
    if autoscaling is not None and live is None:
        # The watch cache may lag; reading once avoids dropping replicas we still own (see above).
        live, fresh = api.get(DEPLOYMENT, meta["namespace"], meta["name"]), True
    replaced = None
    if live is not None and selector_changed(desired, live):
        if not fresh:  # a stale event may show the Deployment a replacement already deleted
            live = api.get(DEPLOYMENT, meta["namespace"], meta["name"])
        if live is not None and selector_changed(desired, live):
            replace_deployment(api, desired, live)
            replaced, live = live, None
    if autoscaling is None:
        return api.apply(DEPLOYMENT, desired)
    low, high = autoscaling
    if live is not None and owns_replicas(live):
        current = int((live.get("spec") or {}).get("replicas") or low)
        _hand_over_replicas(api, desired, _clamp(current, low, high))
        return api.apply(DEPLOYMENT, desired)
    applied = api.apply(DEPLOYMENT, desired)
    if live is None:
        # Born without replicas (defaulted to 1): start at minReplicas instead of waiting for the HPA;
        # replacing a Deployment, at the count it had.
        start = low
        if replaced is not None:
            start = _clamp(int((replaced.get("spec") or {}).get("replicas") or low), low, high)
        _hand_over_replicas(api, desired, start)
        applied.setdefault("spec", {})["replicas"] = start
    return applied


def apply_children(
    api: KubeApi,
    owner: Owner,
    children: Children,
    live: Mapping[ChildKind, Mapping[str, Any] | None],
    autoscaling: tuple[int, int] | None,
) -> dict[ChildKind, dict[str, Any] | None]:
    """Apply every enabled child and delete every disabled one that exists; return the live objects."""
    result: dict[ChildKind, dict[str, Any] | None] = {}
    for kind, desired in children.by_kind().items():
        current = live.get(kind)
        if desired is None:
            if current is not None:
                api.delete(kind, owner.namespace, child_name(owner, kind))
                log.info("%s/%s: deleted %s (disabled in the spec)", owner.namespace, owner.name, kind.kind)
            result[kind] = None
        elif kind is DEPLOYMENT:
            result[kind] = apply_deployment(api, desired, current, autoscaling)
        else:
            result[kind] = api.apply(kind, desired)
    return result
