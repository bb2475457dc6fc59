"""Helpers for the operator's unit tests: a sample owner and a fake API that records calls."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ocr_operator.apply import ApplyError, KubeApi
from ocr_operator.builders import ChildKind, Owner
from ocr_operator.spec import API_VERSION, KIND

OWNER = Owner(namespace="default", name="invoices", uid="11111111-2222-3333-4444-555555555555")


def owner_body(spec: Mapping[str, Any] | None = None, *, generation: int = 1, status: Any = None) -> dict[str, Any]:
    """An OcrService as kopf hands it to a handler."""
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"namespace": OWNER.namespace, "name": OWNER.name, "uid": OWNER.uid, "generation": generation},
        "spec": dict(spec or {}),
    }
    if status is not None:
        body["status"] = status
    return body


class FakeApi(KubeApi):
    """Records calls instead of talking to a cluster; ``apply`` echoes the manifest as the live object.

    Failures to inject: ``fail_apply`` (an exception for every apply), ``fail_kinds`` (kind name → a
    list of exceptions, one per apply call, popped in order), ``dry_run_error`` (what a dry-run create
    raises; default 409 AlreadyExists, i.e. "valid"), ``fail_merge_patch``."""

    def __init__(self) -> None:
        super().__init__(api_client=None)  # type: ignore[arg-type]
        self.calls: list[tuple[str, str, str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.fail_apply: Exception | None = None
        self.fail_kinds: dict[str, list[Exception]] = {}
        self.dry_run_error: Exception | None = ApplyError("validate: 409 exists", permanent=False, status=409)
        self.fail_merge_patch: Exception | None = None
        self.fail_event: Exception | None = None
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}  # what ``get`` finds, by (kind, name)
        self.pods: list[dict[str, Any]] = []  # what ``list_pods`` finds (every selector alike)
        self.fail_list_pods: Exception | None = None

    def apply(
        self, kind: ChildKind, manifest: Mapping[str, Any], *, manager: str | None = None, force: bool = True
    ) -> dict[str, Any]:
        self._count()
        if self.fail_apply is not None:
            raise self.fail_apply
        pending = self.fail_kinds.get(kind.kind)
        if pending:
            self.calls.append(("apply-refused", kind.kind, manager or self.field_manager, None))
            raise pending.pop(0)
        self.calls.append(("apply", kind.kind, manager or self.field_manager, copy.deepcopy(dict(manifest))))
        return copy.deepcopy(dict(manifest))

    def dry_run_create(self, kind: ChildKind, manifest: Mapping[str, Any]) -> None:
        self._count()
        self.calls.append(("dry-run", kind.kind, manifest["metadata"]["name"], None))
        if self.dry_run_error is not None:
            raise self.dry_run_error

    def merge_patch(self, kind: ChildKind, manifest: Mapping[str, Any], *, manager: str) -> dict[str, Any]:
        self._count()
        self.calls.append(("merge-patch", kind.kind, manager, copy.deepcopy(dict(manifest))))
        if self.fail_merge_patch is not None:
            raise self.fail_merge_patch
        return copy.deepcopy(dict(manifest))

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> None:
        self._count()
        if self.fail_event is not None:
            raise self.fail_event
        self.events.append(copy.deepcopy(dict(event)))

    def delete(
        self, kind: ChildKind, namespace: str, name: str, *, orphan: bool = False, uid: str | None = None
    ) -> bool:
        self._count()
        self.calls.append(("delete", kind.kind, name, {"orphan": orphan, "uid": uid} if orphan or uid else None))
        self.objects.pop((kind.kind, name), None)
        return True

    def get(self, kind: ChildKind, namespace: str, name: str) -> dict[str, Any] | None:
        self._count()
        self.calls.append(("get", kind.kind, name, None))
        return copy.deepcopy(self.objects.get((kind.kind, name)))

    def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        self._count()
        self.calls.append(("list", "Pod", selector, None))
        if self.fail_list_pods is not None:
            raise self.fail_list_pods
        return copy.deepcopy(self.pods)

    def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        self._count()
        self.statuses.append(copy.deepcopy(dict(status)))
