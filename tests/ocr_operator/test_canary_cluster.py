"""``spec.canary`` on the local control plane (KWOK pods): CEL rejections, the canary children created
and removed for each split (pod ratio, ingress-nginx canary Ingress, Gateway API HTTPRoute with its
CRDs present or absent), promotion, a canary never ready rolled back at its deadline, and the whole
canary path under exactly the chart's RBAC.

KWOK runs no server, so the analysis has no metrics here (``pods/proxy`` fails): analysis rollback is
unit-tested with a fake metrics source (test_canary_loop) and end to end on a real node (tests/e2e).
Namespaces are ``t-test-canary-*``, watched by this module's operator; the Gateway API and RBAC tests
run their own operators, in namespaces (``t-test-gateway-*``, ``t-test-rbac-*``) no other operator watches.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from ocr_operator.builders import DEPLOYMENT, HTTPROUTE, INGRESS, SERVICE
from ocr_operator.builders.canary import CANARY_ANNOTATION, CANARY_WEIGHT_ANNOTATION
from ocr_operator.builders.meta import TRACK_LABEL
from tests.ocr_operator.chart_role import chart_role, granted_calls
from tests.ocr_operator.ocrs_cluster import NAME, Cluster, crd_installed, open_crd
from tests.ocr_operator.operator_proc import OperatorProcess

pytestmark = [pytest.mark.k8s, pytest.mark.timeout(300)]

NAMESPACE_GLOB = "t-test-canary-*"
CANARY, STABLE_SVC = f"{NAME}-canary", f"{NAME}-stable"
CANARY_MODEL = "crnn-en-1.1.0"
CANARY_SPEC: dict[str, Any] = {"model": {"version": "1.1.0"}, "weight": 50}
HOST = "ocr.example.com"

# Only its presence matters to the operator (it then writes an HTTPRoute); *.k8s.io groups need the
# approval annotation, which the real CRD carries too.
HTTPROUTE_CRD = open_crd(
    "gateway.networking.k8s.io",
    "v1",
    "HTTPRoute",
    "httproutes",
    {"api-approved.kubernetes.io": "https://github.com/kubernetes-sigs/gateway-api/pull/2466"},
)


@pytest.fixture
def gateway_crd(k8s_cluster: Any, tmp_path: Path) -> Iterator[None]:
    with crd_installed(k8s_cluster, HTTPROUTE_CRD, tmp_path):
        yield


def canary_status(kube: Cluster) -> dict[str, Any]:
    return (kube.get().get("status") or {}).get("canary") or {}


def backend(ingress: dict[str, Any]) -> str:
    return ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]


def pods_by_track(kube: Cluster) -> dict[str, int]:
    pods = kube.core.list_namespaced_pod(kube.ns, label_selector=f"app.kubernetes.io/instance={NAME}").items
    counts: dict[str, int] = {}
    for pod in pods:
        track = (pod.metadata.labels or {}).get(TRACK_LABEL, "")
        counts[track] = counts.get(track, 0) + 1
    return counts


# ---- CEL ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"canary": {**CANARY_SPEC, "weight": 101}}, "spec.canary.weight"),
        ({"canary": {**CANARY_SPEC, "weight": -1}}, "spec.canary.weight"),
        ({"canary": {**CANARY_SPEC, "weight": 10, "replicas": 0}}, "canary.replicas must be at least 1"),
        ({"canary": {"model": {"version": "1.6.0"}}}, "canary.model must differ from model"),
        (
            {"model": {"version": "1.1.0"}, "canary": {"model": {"name": "crnn-en", "version": "1.1.0"}}},
            "canary.model must differ from model",
        ),
        (
            {"canary": {**CANARY_SPEC, "analysis": {"maxP95Ms": 500, "maxP95LatencyRatio": 2}}},
            "at most one of maxP95LatencyRatio and maxP95Ms",
        ),
        ({"podLabels": {"ocr-crnn.io/track": "canary"}}, "podLabels must not set ocr-crnn.io/track"),
    ],
)
def test_canary_cel_rejects(
    k8s_api: client.ApiClient, k8s_namespace: str, crd: None, spec: dict[str, Any], message: str
) -> None:
    assert message in Cluster(k8s_api, k8s_namespace, None).refused(spec)


def test_canary_cel_accepts_weight_zero_without_pods(k8s_api: client.ApiClient, k8s_namespace: str, crd: None) -> None:
    kube = Cluster(k8s_api, k8s_namespace, None)
    created = kube.create({"canary": {**CANARY_SPEC, "weight": 0, "replicas": 0}})
    assert created["spec"]["canary"]["autoRollback"] is True  # defaults applied
    assert created["spec"]["canary"]["analysis"]["windowSeconds"] == 60


# ---- pod ratio ---------------------------------------------------------------------------------------


def test_canary_by_pod_ratio_runs_beside_the_stable_and_goes_when_removed(kube: Cluster, k8s_cluster: Any) -> None:
    kube.create({"replicas": 2, "canary": CANARY_SPEC})
    kube.wait(lambda: canary_status(kube).get("state") == "Serving", "canary Serving")
    dep = kube.kube.get(DEPLOYMENT, kube.ns, CANARY)
    assert dep is not None and dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["metadata"]["labels"][TRACK_LABEL] == "canary"
    assert kube.wait(lambda: pods_by_track(kube) == {"stable": 2, "canary": 2}, "2 + 2 pods")  # restricted PSA ok
    svc = kube.child(SERVICE)
    assert svc is not None and TRACK_LABEL not in svc["spec"]["selector"]  # one Service for both tracks
    assert kube.kube.get(SERVICE, kube.ns, STABLE_SVC) is None  # no exact split: no track Services
    status = kube.wait(lambda: canary_status(kube) if canary_status(kube).get("podPercent") == 50 else None, "50 %")
    assert (status["model"], status["weight"], status["split"]) == (CANARY_MODEL, 50, "podRatio")
    cond = kube.condition("Canary")
    assert (cond["status"], cond["reason"]) == ("True", "Serving")
    out = k8s_cluster.kubectl("get", "ocrs", "-n", kube.ns).stdout.splitlines()
    assert f"{CANARY_MODEL} 50% Serving" in out[1], out
    assert "CanaryServing" in {e["reason"] for e in kube.events()}

    kube.patch({"canary": None})
    kube.wait(lambda: kube.kube.get(DEPLOYMENT, kube.ns, CANARY) is None, "canary Deployment deleted")
    kube.wait(lambda: not canary_status(kube), "status.canary removed")
    obj = kube.get()
    assert obj["status"]["history"][-1]["reason"] == "rolledBack"
    assert obj["status"]["history"][-1]["message"] == "spec.canary removed"
    assert not kube.condition("Canary")
    assert kube.condition("Ready")["status"] == "True"


# ---- ingress-nginx --------------------------------------------------------------------------------------


def test_canary_by_ingress_renders_nginx_canary_annotations_and_restores_the_main_ingress(kube: Cluster) -> None:
    kube.create({"replicas": 2, "ingress": {"enabled": True, "host": HOST}, "canary": {**CANARY_SPEC, "weight": 20}})

    def weight() -> str | None:
        ing = kube.kube.get(INGRESS, kube.ns, CANARY)
        return (ing or {}).get("metadata", {}).get("annotations", {}).get(CANARY_WEIGHT_ANNOTATION)

    kube.wait(lambda: weight() == "20", "canary Ingress at weight 20 once the canary is ready")
    canary_ing = kube.kube.get(INGRESS, kube.ns, CANARY)
    main = kube.child(INGRESS)
    assert canary_ing is not None and main is not None
    assert canary_ing["metadata"]["annotations"][CANARY_ANNOTATION] == "true"
    assert canary_ing["spec"]["rules"][0]["host"] == HOST == main["spec"]["rules"][0]["host"]
    assert backend(canary_ing) == CANARY and backend(main) == STABLE_SVC
    assert CANARY_ANNOTATION not in main["metadata"]["annotations"]
    for track, name in (("stable", STABLE_SVC), ("canary", CANARY)):
        svc = kube.kube.get(SERVICE, kube.ns, name)
        assert svc is not None and svc["spec"]["selector"][TRACK_LABEL] == track
    status = kube.wait(lambda: canary_status(kube) if canary_status(kube).get("routedWeight") == 20 else None, "20")
    assert status["split"] == "podRatio+ingress" and status["replicas"] == 1

    kube.patch({"canary": None})
    kube.wait(lambda: kube.kube.get(INGRESS, kube.ns, CANARY) is None, "canary Ingress deleted")
    kube.wait(lambda: backend(kube.child(INGRESS)) == NAME, "main Ingress back on the Service")  # type: ignore[arg-type]
    kube.wait(lambda: kube.kube.get(SERVICE, kube.ns, STABLE_SVC) is None, "track Services deleted")
    assert kube.kube.get(SERVICE, kube.ns, CANARY) is None


def test_canary_hand_deleted_is_restored(kube: Cluster) -> None:
    kube.create({"replicas": 1, "canary": {**CANARY_SPEC, "replicas": 1}})
    kube.wait(lambda: canary_status(kube).get("state") == "Serving", "canary Serving")
    uid = kube.kube.get(DEPLOYMENT, kube.ns, CANARY)["metadata"]["uid"]  # type: ignore[index]
    kube.kube.delete(DEPLOYMENT, kube.ns, CANARY)
    kube.wait(
        lambda: (kube.kube.get(DEPLOYMENT, kube.ns, CANARY) or {}).get("metadata", {}).get("uid") not in (None, uid),
        "canary Deployment recreated",
    )
    kube.wait(lambda: any(e["reason"] == "ChildRestored" for e in kube.events()), "ChildRestored Event")


# ---- promotion and deadline ------------------------------------------------------------------------------


def test_canary_promotion_rolls_the_stable_then_removes_the_canary(kube: Cluster) -> None:
    kube.create({"replicas": 2, "canary": CANARY_SPEC})
    kube.wait(lambda: canary_status(kube).get("state") == "Serving", "canary Serving")
    gen = kube.patch({"model": {"version": "1.1.0"}, "canary": None})["metadata"]["generation"]
    obj = kube.wait_ready(gen)
    assert obj["status"]["model"] == CANARY_MODEL
    kube.wait(lambda: kube.kube.get(DEPLOYMENT, kube.ns, CANARY) is None, "canary Deployment removed after promotion")
    kube.wait(lambda: not canary_status(kube), "status.canary removed")
    history = kube.get()["status"]["history"]
    assert [h["reason"] for h in history][-1] == "promoted" and history[-1]["model"] == CANARY_MODEL
    assert "rolledBack" not in [h["reason"] for h in history]
    assert "CanaryPromoted" in {e["reason"] for e in kube.events()}


def test_canary_not_ready_in_time_is_rolled_back(kube: Cluster) -> None:
    """No room for canary pods (a pod quota the stable fills): never ready, rolled back at its deadline."""
    kube.core.create_namespaced_resource_quota(kube.ns, {"metadata": {"name": "pods"}, "spec": {"hard": {"pods": "1"}}})
    kube.create({"replicas": 1})
    kube.wait_ready()
    kube.patch({"canary": {**CANARY_SPEC, "replicas": 1, "analysis": {"progressDeadlineSeconds": 30}}})
    kube.wait(lambda: canary_status(kube).get("state") == "Progressing", "canary Progressing")
    started = time.monotonic()
    kube.wait(lambda: canary_status(kube).get("state") == "RolledBack", "canary rolled back", timeout=90)
    assert time.monotonic() - started < 60
    kube.wait(lambda: kube.kube.get(DEPLOYMENT, kube.ns, CANARY) is None, "canary Deployment deleted")
    status = kube.get()["status"]
    assert "progressDeadlineSeconds (30 s)" in status["canary"]["message"]
    cond = kube.condition("Canary")
    assert (cond["status"], cond["reason"]) == ("False", "Degraded")
    assert status["history"][-1]["reason"] == "rolledBack"
    assert [e["reason"] for e in kube.events()].count("CanaryRolledBack") == 1
    assert kube.condition("Ready")["status"] == "True"  # the stable serves on
    assert kube.operator_lines(f"{kube.ns}/{NAME}: CanaryRolledBack")


# ---- Gateway API ------------------------------------------------------------------------------------------


def test_gateway_api_canary_httproute_only_where_its_crd_is_served(
    k8s_api: client.ApiClient, k8s_namespace: str, k8s_cluster: Any, crd: None, tmp_path: Path
) -> None:
    with OperatorProcess(k8s_cluster.kubeconfig, tmp_path / "absent.log", namespaces=k8s_namespace) as proc:
        kube = Cluster(k8s_api, k8s_namespace, proc)
        kube.create({"replicas": 1, "canary": {**CANARY_SPEC, "replicas": 1}}, name="absent")
        kube.wait(lambda: canary_status_of(kube, "absent").get("state") == "Serving", "canary Serving")
        assert canary_status_of(kube, "absent")["split"] == "podRatio"
        assert kube.kube.get(SERVICE, kube.ns, "absent-stable") is None
    with (
        crd_installed(k8s_cluster, HTTPROUTE_CRD, tmp_path),
        OperatorProcess(k8s_cluster.kubeconfig, tmp_path / "present.log", namespaces=k8s_namespace) as proc,
    ):
        kube = Cluster(k8s_api, k8s_namespace, proc)
        kube.create({"replicas": 3, "canary": {**CANARY_SPEC, "weight": 10}})

        def weights() -> dict[str, int] | None:
            route = kube.kube.get(HTTPROUTE, kube.ns, NAME)
            if route is None:
                return None
            return {b["name"]: b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]}

        kube.wait(lambda: weights() == {STABLE_SVC: 90, CANARY: 10}, "HTTPRoute 90/10 once the canary is ready")
        route = kube.kube.get(HTTPROUTE, kube.ns, NAME)
        assert route is not None
        assert route["spec"]["parentRefs"] == [{"group": "", "kind": "Service", "name": NAME, "port": 80}]
        assert route["metadata"]["ownerReferences"][0]["name"] == NAME
        kube.wait(lambda: canary_status(kube).get("split") == "podRatio+gatewayAPI", "split with the Gateway API")
        kube.wait(lambda: kube.kube.get(SERVICE, kube.ns, STABLE_SVC), "the stable track's Service")
        # the canary absent before now gets its route too (the operator asked discovery afresh)
        kube.wait(lambda: kube.kube.get(HTTPROUTE, kube.ns, "absent") is not None, "route of the earlier canary")
        kube.patch({"canary": None})
        kube.wait(lambda: weights() is None, "HTTPRoute deleted with the canary")


def canary_status_of(kube: Cluster, name: str) -> dict[str, Any]:
    return (kube.get(name).get("status") or {}).get("canary") or {}


# ---- RBAC ----------------------------------------------------------------------------------------------------


def test_rbac_canary_runs_under_exactly_the_charts_rbac(
    k8s_cluster: Any, k8s_api: client.ApiClient, k8s_namespace: str, crd: None, gateway_crd: None, tmp_path: Path
) -> None:
    """A canary with an Ingress and an HTTPRoute, analysed (its pods listed, /metrics asked through
    the pod proxy, which KWOK cannot answer), then removed: every call was granted by the chart's Role."""
    with chart_role(k8s_cluster, k8s_api, k8s_namespace, tmp_path) as (kubeconfig, granted):
        with OperatorProcess(kubeconfig, tmp_path / "operator.log", namespaces=k8s_namespace) as proc:
            kube = Cluster(k8s_api, k8s_namespace, proc)
            canary = {**CANARY_SPEC, "replicas": 1, "analysis": {"intervalSeconds": 5, "windowSeconds": 5}}
            kube.create({"replicas": 1, "ingress": {"enabled": True, "host": HOST}, "canary": canary})
            kube.wait(lambda: kube.kube.get(HTTPROUTE, kube.ns, NAME), "HTTPRoute")
            kube.wait(lambda: canary_status(kube).get("state") == "Serving", "canary Serving")
            time.sleep(6)  # one analysis: pods listed, /metrics asked for
            kube.patch({"canary": None})
            kube.wait(lambda: kube.kube.get(HTTPROUTE, kube.ns, NAME) is None, "HTTPRoute deleted")
            kube.wait(lambda: kube.kube.get(DEPLOYMENT, kube.ns, CANARY) is None, "canary Deployment deleted")
            used = granted_calls(proc, granted)
        assert {
            ("gateway.networking.k8s.io", "httproutes", "patch"),
            ("gateway.networking.k8s.io", "httproutes", "delete"),
            ("", "pods", "list"),
            ("", "pods/proxy", "get"),
        } <= used, sorted(used)
