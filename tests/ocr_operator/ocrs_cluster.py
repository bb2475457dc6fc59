"""An ``OcrService`` on the local control plane, in the cluster tests' words.

The core, resilience, jobs and canary cluster tests all drive the same CRD through the same
client, so the CRD install, the :class:`Cluster` helper and the stand-in third-party CRDs (Gateway
API, KEDA) live here once; the fixtures built on them are in ``conftest.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from ocr_operator.apply import KubeApi
from ocr_operator.builders import CONFIGMAP, ChildKind
from ocr_operator.crd import CRD_NAME, CRD_PATH
from ocr_operator.spec import GROUP, PLURAL, VERSION
from tests.ocr_operator.operator_proc import REPO_ROOT, OperatorProcess

NAME = "invoices"  # the OcrService every cluster test creates unless it names another
# The namespaces of tests named ``test_ocrs_*`` (the core and resilience modules): their operators serve these.
OCRS_NAMESPACES = "t-test-ocrs-*"


def install_crd(cluster: Any) -> None:
    """Apply the repository's OcrService CRD (server-side, so re-applying it is harmless) and wait for it."""
    cluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=ocr-operator-tests",
        "-f",
        str(REPO_ROOT / CRD_PATH),
    )
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")


class Cluster:
    """What the tests do to the cluster, in their words."""

    def __init__(self, api_client: client.ApiClient, namespace: str, operator: OperatorProcess | None) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.kube = KubeApi(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.ns = namespace
        self.operator = operator

    # OcrService CRUD
    def create(self, spec: dict[str, Any], name: str = NAME) -> dict[str, Any]:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "OcrService", "metadata": {"name": name}, "spec": spec}
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, body)

    def refused(self, spec: dict[str, Any], name: str = NAME) -> str:
        """The API server's message refusing to create this OcrService (422: schema, CEL or name);
        fails the test if the object is accepted."""
        with pytest.raises(ApiException) as err:
            self.create(spec, name)
        assert err.value.status == 422, err.value.body
        return json.loads(err.value.body)["message"]

    def patch(self, spec: dict[str, Any], name: str = NAME) -> dict[str, Any]:
        return self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.ns, PLURAL, name, {"spec": spec}, _content_type="application/merge-patch+json"
        )

    def get(self, name: str = NAME) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, name)

    def delete(self, name: str = NAME) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.ns, PLURAL, name)

    def child(self, kind: ChildKind, name: str = NAME) -> dict[str, Any] | None:
        return self.kube.get(kind, self.ns, f"{name}-config" if kind is CONFIGMAP else name)

    # waiting
    def wait(self, predicate: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = predicate()
            except ApiException as err:
                if err.status != 404:
                    raise
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                verdict = self.operator.diagnose() if self.operator else ""
                tail = self.operator.log()[-8000:] if self.operator else ""
                state = json.dumps(self._safe_get(), indent=1)[:3000]
                raise AssertionError(
                    f"timed out waiting for {what}\nOcrService: {state}\noperator {verdict}\noperator log:\n{tail}"
                )
            time.sleep(0.25)

    def _safe_get(self) -> Any:
        try:
            return self.get()
        except ApiException as err:
            return f"<{err.status}>"

    def condition(self, type_: str, name: str = NAME) -> dict[str, Any]:
        for cond in (self.get(name).get("status") or {}).get("conditions") or []:
            if cond["type"] == type_:
                return cond
        return {}

    def wait_ready(self, generation: int | None = None, name: str = NAME) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            obj = self.get(name)
            status = obj.get("status") or {}
            want = generation or obj["metadata"]["generation"]
            cond = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), {})
            if cond.get("status") == "True" and status.get("observedGeneration") == want:
                return obj
            return None

        return self.wait(ready, f"{name} Ready=True")

    def operator_lines(self, needle: str) -> list[str]:
        assert self.operator is not None
        return [line for line in self.operator.log().splitlines() if needle in line]

    def events(self) -> list[dict[str, Any]]:
        evs = self.core.list_namespaced_event(self.ns, _preload_content=False)
        return [e for e in json.loads(evs.data)["items"] if e["involvedObject"].get("kind") == "OcrService"]


def open_crd(
    group: str, version: str, kind: str, plural: str, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    """A CRD that accepts any ``kind`` object: a stand-in for a third party's API (Gateway API,
    KEDA) whose presence the operator detects; its schema is not what is under test."""
    metadata: dict[str, Any] = {"name": f"{plural}.{group}"}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


@contextmanager
def crd_installed(cluster: Any, crd: dict[str, Any], tmp_path: Path) -> Iterator[None]:
    """``crd`` established for the block, then deleted (and its objects with it)."""
    path = tmp_path / f"{crd['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(crd), encoding="utf-8")
    cluster.kubectl("apply", "--server-side", "-f", str(path))
    try:
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}", "--timeout=60s")
        yield
    finally:
        cluster.kubectl("delete", "-f", str(path), "--wait=true")
