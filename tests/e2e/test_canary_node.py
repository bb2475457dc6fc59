"""Model canaries on a real node: real server pods of two model versions behind one Service, requests
through kube-proxy, the operator's analysis reading the pods' real /metrics through the API server.

- a canary at weight 50 (2 stable + 2 canary pods) answers about half the requests: the model version
  in the responses is counted over a bounded number of fresh connections;
- promoting it under steady load fails no request, and the history says ``promoted``;
- a canary made to fail its golden set never gets traffic and is rolled back at its deadline, and one
  made to answer 500s is rolled back by the analysis (Event + history).  Both need the server's test-only
  fault switch and golden-set gate (``OCR_FAULT_INJECTION``): with a server image that lacks them they
  skip locally and fail under CI, saying so.

Opt-in: OCR_REAL_NODE=1 (see conftest.py).  The tests run in file order on one release.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests import needs
from tests.cluster.images import SERVER_IMAGE
from tests.cluster.node import RealNodeCluster
from tests.e2e.conftest import Receipt, installed_release, kget, wait_for
from tests.e2e.test_real_node import RESOURCES, Load, condition, ready_pods, service_url

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

RELEASE = "ocr-canary"
NAME = "lines"
STABLE, CANARY = "1.1.0", "1.0.0"  # both bundles ship in the server image
SERVER_SELECTOR = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=ocr-server"
FAULT_ANNOTATION = "ocr-crnn.io/canary-fault-injection"
# A fast analysis for the tests: every 5 s over the last 20 s, 20 requests at least.
ANALYSIS = {"intervalSeconds": 5, "windowSeconds": 20, "minRequests": 20, "maxErrorRate": 0.05}
SAMPLES = 200  # requests counted for the split


def apply(cluster: RealNodeCluster, ns: str, spec: dict[str, Any], annotations: dict[str, str] | None = None) -> None:
    meta: dict[str, Any] = {"name": NAME, "annotations": annotations or {}}
    body = {"apiVersion": "ocr-crnn.io/v1alpha1", "kind": "OcrService", "metadata": meta, "spec": spec}
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(body))


def patch(cluster: RealNodeCluster, ns: str, body: dict[str, Any]) -> None:
    cluster.kubectl("patch", "ocrservice", NAME, "-n", ns, "--type=merge", "-p", json.dumps(body))


def obj(cluster: RealNodeCluster, ns: str) -> dict[str, Any]:
    return kget(cluster, "ocrservice", NAME, "-n", ns)


def canary(cluster: RealNodeCluster, ns: str) -> dict[str, Any]:
    return obj(cluster, ns).get("status", {}).get("canary") or {}


def stable_spec() -> dict[str, Any]:
    repo, tag = SERVER_IMAGE.rsplit(":", 1)
    return {
        "replicas": 2,
        "image": {"repository": repo, "tag": tag, "pullPolicy": "Never"},
        "model": {"name": "crnn-en", "version": STABLE},
        "resources": RESOURCES,
    }


def events(cluster: RealNodeCluster, ns: str, reason: str) -> list[dict[str, Any]]:
    items = kget(cluster, "events", "-n", ns, "--field-selector", f"involvedObject.name={NAME}")["items"]
    return [e for e in items if e["reason"] == reason]


@pytest.fixture(scope="module")
def release(real_node: RealNodeCluster, e2e_namespace: str) -> Iterator[str]:
    with installed_release(real_node, e2e_namespace, RELEASE, helm_test_target=NAME) as name:
        yield name


@pytest.fixture(scope="module")
def stable(real_node: RealNodeCluster, e2e_namespace: str, release: str) -> str:
    apply(real_node, e2e_namespace, stable_spec())
    wait_for(lambda: condition(obj(real_node, e2e_namespace), "Ready").get("status") == "True", 420, "Ready", 2)
    return service_url(real_node, e2e_namespace, NAME)


def versions(url: str, image: bytes, count: int) -> Counter[str]:
    """The model version of ``count`` answers, each on a fresh connection (kube-proxy picks a pod per
    connection)."""
    seen: Counter[str] = Counter()
    for _ in range(count):
        rsp = requests.post(
            f"{url}/api/v1/recognize", files={"image": ("line.png", image)}, headers={"Connection": "close"}, timeout=60
        )
        assert rsp.status_code == 200, rsp.text[:300]
        seen[rsp.json()["model"]["version"]] += 1
    return seen


def serving(cluster: RealNodeCluster, ns: str) -> bool:
    return condition(obj(cluster, ns), "Canary").get("reason") == "Serving"


def test_canary_at_half_serves_both_versions(
    real_node: RealNodeCluster, e2e_namespace: str, stable: str, receipt: Receipt
) -> None:
    patch(real_node, e2e_namespace, {"spec": {"canary": {"model": {"version": CANARY}, "weight": 50}}})
    wait_for(lambda: serving(real_node, e2e_namespace), 420, "canary Serving", 2)
    status = canary(real_node, e2e_namespace)
    assert (status["replicas"], status["readyReplicas"], status["podPercent"]) == (2, 2, 50), status
    seen = versions(stable, receipt.line_crop, SAMPLES)
    share = seen[CANARY] / SAMPLES
    print(f"canary at 50 % (2 of 4 ready pods): {dict(seen)} over {SAMPLES} requests, canary share {share:.0%}")
    assert set(seen) == {STABLE, CANARY}
    # by pod ratio the expected share is exactly 2/4; 200 connections put 95 % of runs within ±7 points
    assert 0.35 <= share <= 0.65, seen
    table = real_node.kubectl("get", "ocrservices", "-n", e2e_namespace).stdout
    assert f"crnn-en-{CANARY} 50% Serving" in table, table


def test_promote_under_steady_load_fails_no_request(
    real_node: RealNodeCluster, e2e_namespace: str, stable: str, receipt: Receipt
) -> None:
    assert serving(real_node, e2e_namespace), "needs the canary of the previous test"
    with Load(stable, receipt.line_crop, threads=2) as load:
        wait_for(lambda: len(load.outcomes) >= 10, 120, "the load to warm up")
        patch(real_node, e2e_namespace, {"spec": {"model": {"version": CANARY}, "canary": None}})

        def promoted() -> bool:
            current = obj(real_node, e2e_namespace)
            status = current.get("status", {})
            done = status.get("modelVersion") == CANARY and not status.get("canary")
            return done and not kget(real_node, "deployments", "-n", e2e_namespace, "-l", SERVER_SELECTOR)["items"][1:]

        wait_for(promoted, 600, "the stable on the canary's model and the canary Deployment gone", interval=2)
        done_at = time.monotonic()
        wait_for(lambda: any(t > done_at + 5 for t, _, _ in load.outcomes), 120, "requests after the promotion")
    counts = Counter(v for _, _, v in load.outcomes)
    print(f"promotion under load: {len(load.outcomes)} requests, versions {dict(counts)}, failures {load.failures}")
    assert load.failures == 0, f"{load.failures} failed requests during the promotion: {load.errors[:3]}"
    assert {v for t, _, v in load.outcomes if t > done_at + 2} == {CANARY}
    history = obj(real_node, e2e_namespace)["status"]["history"]
    assert history[-1]["reason"] == "promoted" and history[-1]["modelVersion"] == CANARY


def _has_fault_switch(url: str) -> bool:
    info = requests.get(f"{url}/api/v1/info", timeout=30).json()
    return "golden" in info


def test_canary_failing_its_golden_set_never_gets_traffic_and_is_rolled_back(
    real_node: RealNodeCluster, e2e_namespace: str, stable: str, receipt: Receipt
) -> None:
    if not _has_fault_switch(stable):
        needs.missing("the server image has no golden-set gate / OCR_FAULT_INJECTION (make node-images)")
    spec = stable_spec() | {"model": {"name": "crnn-en", "version": CANARY}}
    canary_spec = {"model": {"version": STABLE}, "weight": 50, "analysis": {**ANALYSIS, "progressDeadlineSeconds": 60}}
    with Load(stable, receipt.line_crop, threads=2) as load:
        apply(real_node, e2e_namespace, spec | {"canary": canary_spec}, {FAULT_ANNOTATION: "golden=fail"})
        wait_for(lambda: canary(real_node, e2e_namespace).get("state") == "RolledBack", 300, "rolled back", 2)
    counts = Counter(v for _, _, v in load.outcomes)
    print(f"gate-failing canary: {dict(counts)}, failures {load.failures}")
    assert counts[STABLE] == 0, "a canary failing its golden set answered requests"
    assert load.failures == 0
    current = obj(real_node, e2e_namespace)
    assert condition(current, "Canary")["reason"] == "Degraded"
    assert "progressDeadlineSeconds" in current["status"]["canary"]["message"]
    assert current["status"]["history"][-1]["reason"] == "rolledBack"
    assert len(events(real_node, e2e_namespace, "CanaryRolledBack")) == 1
    patch(real_node, e2e_namespace, {"spec": {"canary": None}})


def test_canary_returning_errors_is_rolled_back_by_the_analysis(
    real_node: RealNodeCluster, e2e_namespace: str, stable: str, receipt: Receipt
) -> None:
    if not _has_fault_switch(stable):
        needs.missing("the server image has no OCR_FAULT_INJECTION (make node-images)")
    spec = stable_spec() | {"model": {"name": "crnn-en", "version": CANARY}}
    canary_spec = {"model": {"version": STABLE}, "weight": 50, "analysis": ANALYSIS}
    before = len(events(real_node, e2e_namespace, "CanaryRolledBack"))
    apply(real_node, e2e_namespace, spec | {"canary": canary_spec}, {FAULT_ANNOTATION: "errors=0.5"})
    wait_for(lambda: serving(real_node, e2e_namespace), 420, "canary Serving", 2)
    with Load(stable, receipt.line_crop, threads=2, max_seconds=300) as load:
        wait_for(lambda: canary(real_node, e2e_namespace).get("state") == "RolledBack", 240, "rolled back", 2)
    current = obj(real_node, e2e_namespace)
    analysis = current["status"]["canary"]["analysis"]
    print(f"analysis rollback: {analysis}; client saw {load.failures} failures of {len(load.outcomes)}")
    assert analysis["verdict"] == "Fail" and float(analysis["canaryErrorRate"]) > 0.05
    assert float(analysis["stableErrorRate"]) == 0.0
    assert condition(current, "Canary")["reason"] == "Degraded"
    assert current["status"]["history"][-1]["reason"] == "rolledBack"
    assert len(events(real_node, e2e_namespace, "CanaryRolledBack")) == before + 1
    wait_for(
        lambda: len(kget(real_node, "deployments", "-n", e2e_namespace, "-l", SERVER_SELECTOR)["items"]) == 1,
        120,
        "the canary Deployment deleted",
    )
    assert len(ready_pods(real_node, e2e_namespace, SERVER_SELECTOR)) >= 2
