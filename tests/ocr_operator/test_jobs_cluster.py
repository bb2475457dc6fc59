"""``spec.jobs`` on the local control plane: CEL rules, the worker/Redis children admitted by Pod Security
"restricted", ``JobsReady``, the HPA fallback without KEDA and the ScaledObject with KEDA's CRD.

KEDA itself is not run: only its ScaledObject CRD is installed (and removed afterwards), which is what
the operator looks for.  Each test starts its own operator (its KEDA detection is cached per process).
Namespaces are ``t-test-jobs-*``; the operators here watch only those.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from ocr_operator.builders import CONFIGMAP, DEPLOYMENT, HPA, PVC, SERVICE
from ocr_operator.jobs import JOBS_READY, SCALED_OBJECT
from ocr_operator.revision import APPLIED_HASH_ANNOTATION
from tests.ocr_operator.chart_role import chart_role, granted_calls
from tests.ocr_operator.ocrs_cluster import NAME, Cluster, crd_installed, open_crd
from tests.ocr_operator.operator_proc import OperatorProcess

pytestmark = [pytest.mark.k8s, pytest.mark.timeout(300)]

NAMESPACE_GLOB = "t-test-jobs-*"
WORKERS, REDIS = f"{NAME}-workers", f"{NAME}-redis"
JOBS = {
    "enabled": True,
    "redis": {"deploy": True},
    "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 3},
}

KEDA_CRD = open_crd("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects")  # KEDA itself is not run


@pytest.fixture
def kube(
    k8s_api: client.ApiClient, k8s_namespace: str, k8s_cluster: Any, crd: None, tmp_path: Path
) -> Iterator[Cluster]:
    """A fresh operator per test: its KEDA detection is cached for the life of the process."""
    with OperatorProcess(k8s_cluster.kubeconfig, tmp_path / "operator.log", namespaces=NAMESPACE_GLOB) as proc:
        yield Cluster(k8s_api, k8s_namespace, proc)


@pytest.fixture
def keda_crd(k8s_cluster: Any, tmp_path: Path) -> Iterator[None]:
    with crd_installed(k8s_cluster, KEDA_CRD, tmp_path):
        yield


def jobs_ready(kube: Cluster) -> dict[str, Any] | None:
    cond = kube.condition(JOBS_READY)
    return cond if cond.get("status") == "True" else None


def test_jobs_cel_requires_exactly_one_of_url_and_deploy(
    k8s_api: client.ApiClient, k8s_namespace: str, crd: None
) -> None:
    kube = Cluster(k8s_api, k8s_namespace, None)
    for redis in ({}, {"deploy": True, "url": "redis://r:6379/0"}):
        assert "exactly one of url and deploy" in kube.refused({"jobs": {"enabled": True, "redis": redis}})
    kube.create({"jobs": {"enabled": False, "redis": {}}})  # irrelevant while disabled


def test_jobs_children_without_keda_use_an_hpa_and_go_when_disabled(kube: Cluster) -> None:
    kube.create({"replicas": 1, "jobs": JOBS})
    kube.wait_ready()
    cond = kube.wait(lambda: jobs_ready(kube), "JobsReady=True")
    assert cond["reason"] == "WorkersAvailable" and "Redis ready" in cond["message"]
    worker = kube.kube.get(DEPLOYMENT, kube.ns, WORKERS)
    redis = kube.kube.get(DEPLOYMENT, kube.ns, REDIS)
    assert worker is not None and redis is not None and kube.kube.get(SERVICE, kube.ns, REDIS) is not None
    assert worker["spec"]["template"]["spec"]["containers"][0]["command"] == ["python3", "-m", "ocr_server.jobs.worker"]
    hpa = kube.kube.get(HPA, kube.ns, WORKERS)
    assert hpa is not None and hpa["spec"]["scaleTargetRef"]["name"] == WORKERS
    assert kube.kube.get(HPA, kube.ns, NAME) is None  # the server's own autoscaling is still off
    # admitted by PodSecurity "restricted": worker and Redis pods exist
    pods = kube.core.list_namespaced_pod(kube.ns).items
    components = {p.metadata.labels.get("app.kubernetes.io/component") for p in pods}
    assert {"ocr-server", "ocr-worker", "redis"} <= components
    configmap = kube.child(CONFIGMAP)
    assert configmap is not None
    config = yaml.safe_load(configmap["data"]["config.yaml"])
    assert config["jobs"]["redisUrl"] == f"redis://{REDIS}.{kube.ns}.svc:6379/0"

    kube.patch({"jobs": {"enabled": False}})
    kube.wait(lambda: kube.kube.get(DEPLOYMENT, kube.ns, WORKERS) is None, "worker Deployment deleted")
    kube.wait(lambda: kube.kube.get(DEPLOYMENT, kube.ns, REDIS) is None, "Redis Deployment deleted")
    kube.wait(lambda: kube.kube.get(HPA, kube.ns, WORKERS) is None, "worker HPA deleted")
    kube.wait(lambda: not kube.condition(JOBS_READY), "JobsReady removed")


def test_jobs_with_keda_crds_get_a_scaled_object(kube: Cluster, keda_crd: None) -> None:
    kube.create({"replicas": 1, "jobs": {**JOBS, "autoscaling": {"enabled": True, "minReplicas": 0, "maxReplicas": 5}}})
    scaled = kube.wait(lambda: kube.kube.get(SCALED_OBJECT, kube.ns, WORKERS), "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == WORKERS
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (0, 5)
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis" and trigger["metadata"]["listName"] == "ocr-pages"
    assert trigger["metadata"]["address"] == f"{REDIS}.{kube.ns}.svc:6379"
    assert kube.kube.get(HPA, kube.ns, WORKERS) is None
    assert scaled["metadata"]["ownerReferences"][0]["name"] == NAME


# ---- the jobs children go through the same apply path as the main children (issue-14) -------------


def redis_ports(kube: Cluster) -> list[tuple[str, int]]:
    service = kube.kube.get(SERVICE, kube.ns, REDIS) or {}
    return [(p["name"], p["port"]) for p in (service.get("spec") or {}).get("ports") or []]


def test_jobs_children_carry_the_applied_hash_and_hand_edits_are_restored(kube: Cluster, k8s_cluster: Any) -> None:
    kube.create({"replicas": 1, "jobs": JOBS})
    kube.wait_ready()
    kube.wait(lambda: jobs_ready(kube), "JobsReady=True")
    for kind, name in ((DEPLOYMENT, WORKERS), (DEPLOYMENT, REDIS), (SERVICE, REDIS), (HPA, WORKERS)):
        live = kube.kube.get(kind, kube.ns, name)
        assert live is not None and APPLIED_HASH_ANNOTATION in live["metadata"]["annotations"], (kind.kind, name)
    before = redis_ports(kube)
    # A changed list merge key (port 6379 -> 6380) wedges server-side apply: the repair ladder undoes it.
    k8s_cluster.kubectl(
        "-n", kube.ns, "patch", "svc", REDIS, "--type=json",
        "-p", '[{"op":"replace","path":"/spec/ports/0/port","value":6380}]',
    )  # fmt: skip
    kube.wait(lambda: redis_ports(kube) == before, "Redis Service port restored", timeout=30)
    kube.kube.delete(DEPLOYMENT, kube.ns, WORKERS)
    kube.wait(
        lambda: kube.kube.get(DEPLOYMENT, kube.ns, WORKERS) is not None, "worker Deployment recreated", timeout=30
    )
    # Removing the labels hides nothing: children are found by their owner reference.
    k8s_cluster.kubectl("-n", kube.ns, "label", "deployment", REDIS, "app.kubernetes.io/managed-by-")
    kube.wait(
        lambda: (
            "app.kubernetes.io/managed-by"
            in ((kube.kube.get(DEPLOYMENT, kube.ns, REDIS) or {}).get("metadata") or {}).get("labels", {})
        ),
        "Redis Deployment label restored",
        timeout=30,
    )
    reasons = [e["reason"] for e in kube.events() if e["type"] == "Warning"]
    assert "DriftCorrected" in reasons and "ChildRestored" in reasons, reasons
    assert kube.condition("Ready").get("status") == "True"


def test_jobs_run_under_exactly_the_charts_rbac(
    k8s_cluster: Any,
    k8s_api: client.ApiClient,
    k8s_namespace: str,
    crd: None,
    keda_crd: None,
    tmp_path: Path,
) -> None:
    """Jobs with a Redis volume claim and a KEDA ScaledObject, then disabled, under the chart's Role:
    every call the operator made was granted, and the PVC/ScaledObject verbs were exercised."""
    with chart_role(k8s_cluster, k8s_api, k8s_namespace, tmp_path) as (kubeconfig, granted):
        with OperatorProcess(kubeconfig, tmp_path / "operator.log", namespaces=k8s_namespace) as proc:
            kube = Cluster(k8s_api, k8s_namespace, proc)
            jobs = {
                **JOBS,
                "redis": {"deploy": True, "persistence": {"enabled": True}},
                "autoscaling": {"enabled": True, "minReplicas": 0, "maxReplicas": 2},
            }
            kube.create({"replicas": 1, "jobs": jobs})
            kube.wait(lambda: kube.kube.get(SCALED_OBJECT, kube.ns, WORKERS), "ScaledObject")
            kube.wait(lambda: kube.kube.get(PVC, kube.ns, REDIS), "Redis PVC")
            kube.wait_ready()
            kube.patch({"jobs": {"enabled": False}})
            kube.wait(lambda: kube.kube.get(SCALED_OBJECT, kube.ns, WORKERS) is None, "ScaledObject deleted")
            kube.wait(lambda: kube.kube.get(PVC, kube.ns, REDIS) is None, "Redis PVC deleted")
            used = granted_calls(proc, granted)
        assert {
            ("", "persistentvolumeclaims", "patch"),
            ("", "persistentvolumeclaims", "delete"),
            ("keda.sh", "scaledobjects", "patch"),
            ("keda.sh", "scaledobjects", "delete"),
        } <= used, sorted(used)


# ---- the Redis PVC and the KEDA ScaledObject are watched too ----------------------------------------


def _uid(obj: dict[str, Any] | None) -> str | None:
    return ((obj or {}).get("metadata") or {}).get("uid")


def test_jobs_pvc_and_scaled_object_are_restored_at_once(kube: Cluster, keda_crd: None, k8s_cluster: Any) -> None:
    """A hand edit or deletion of the Redis PVC or of the worker ScaledObject is undone on its own event,
    not at the next spec change.  KEDA's CRD is installed after the operator started: its ScaledObject
    watch starts when the CRD appears."""
    jobs = {
        **JOBS,
        "redis": {"deploy": True, "persistence": {"enabled": True}},
        "autoscaling": {"enabled": True, "minReplicas": 0, "maxReplicas": 5},
    }
    kube.create({"replicas": 1, "jobs": jobs})
    scaled = kube.wait(lambda: kube.kube.get(SCALED_OBJECT, kube.ns, WORKERS), "ScaledObject")
    pvc = kube.wait(lambda: kube.kube.get(PVC, kube.ns, REDIS), "Redis PVC")
    kube.wait_ready()
    generation = kube.get()["metadata"]["generation"]

    # ScaledObject: a hand edit, then a deletion.
    kube.custom.patch_namespaced_custom_object(
        "keda.sh", "v1alpha1", kube.ns, "scaledobjects", WORKERS, {"spec": {"maxReplicaCount": 9}}
    )
    kube.wait(
        lambda: (kube.kube.get(SCALED_OBJECT, kube.ns, WORKERS) or {}).get("spec", {}).get("maxReplicaCount") == 5,
        "ScaledObject maxReplicaCount restored",
        timeout=30,
    )
    kube.kube.delete(SCALED_OBJECT, kube.ns, WORKERS)
    kube.wait(
        lambda: _uid(kube.kube.get(SCALED_OBJECT, kube.ns, WORKERS)) not in (None, _uid(scaled)),
        "ScaledObject recreated",
        timeout=30,
    )

    # PVC: a removed label, then a deletion (the claim is unbound here, no pod uses it; should the
    # protection finalizer still hold it, it is lifted as the garbage collector would once the pod went).
    k8s_cluster.kubectl("-n", kube.ns, "label", "pvc", REDIS, "app.kubernetes.io/managed-by-")
    kube.wait(
        lambda: (
            "app.kubernetes.io/managed-by"
            in ((kube.kube.get(PVC, kube.ns, REDIS) or {}).get("metadata") or {}).get("labels", {})
        ),
        "PVC label restored",
        timeout=30,
    )
    kube.kube.delete(PVC, kube.ns, REDIS)

    def pvc_recreated() -> bool:
        live = kube.kube.get(PVC, kube.ns, REDIS)
        if live is not None and live["metadata"].get("deletionTimestamp") and live["metadata"]["uid"] == _uid(pvc):
            kube.core.patch_namespaced_persistent_volume_claim(REDIS, kube.ns, {"metadata": {"finalizers": None}})
            return False
        return _uid(live) not in (None, _uid(pvc))

    kube.wait(pvc_recreated, "PVC recreated", timeout=30)
    warnings = [(e["reason"], e["message"]) for e in kube.events() if e["type"] == "Warning"]
    for expected in (
        ("DriftCorrected", f"ScaledObject {WORKERS} was changed by hand"),
        ("ChildRestored", f"ScaledObject {WORKERS} was deleted"),
        ("DriftCorrected", f"PersistentVolumeClaim {REDIS} was changed by hand"),
        ("ChildRestored", f"PersistentVolumeClaim {REDIS} was deleted"),
    ):
        assert any(r == expected[0] and m.startswith(expected[1]) for r, m in warnings), (expected, warnings)
    assert kube.get()["metadata"]["generation"] == generation  # restored without a spec change
