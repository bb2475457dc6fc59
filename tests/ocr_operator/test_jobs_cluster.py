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
from kubernetes.client.rest import ApiException

from ocr_operator.builders import CONFIGMAP, DEPLOYMENT, HPA, SERVICE
from ocr_operator.jobs import JOBS_READY, SCALED_OBJECT
from tests.ocr_operator.operator_proc import OperatorProcess
from tests.ocr_operator.test_operator_cluster import NAME, Cluster, install_crd

pytestmark = [pytest.mark.k8s, pytest.mark.timeout(300)]

NAMESPACE_GLOB = "t-test-jobs-*"
WORKERS, REDIS = f"{NAME}-workers", f"{NAME}-redis"
JOBS = {
    "enabled": True,
    "redis": {"deploy": True},
    "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 3},
}

KEDA_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "scaledobjects.keda.sh"},
    "spec": {
        "group": "keda.sh",
        "scope": "Namespaced",
        "names": {
            "kind": "ScaledObject",
            "listKind": "ScaledObjectList",
            "plural": "scaledobjects",
            "singular": "scaledobject",
        },
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


@pytest.fixture(scope="module")
def crd(k8s_cluster: Any) -> None:
    install_crd(k8s_cluster)


@pytest.fixture
def kube(
    k8s_api: client.ApiClient, k8s_namespace: str, k8s_cluster: Any, crd: None, tmp_path: Path
) -> Iterator[Cluster]:
    with OperatorProcess(k8s_cluster.kubeconfig, tmp_path / "operator.log", namespaces=NAMESPACE_GLOB) as proc:
        yield Cluster(k8s_api, k8s_namespace, proc)


@pytest.fixture
def keda_crd(k8s_cluster: Any, tmp_path: Path) -> Iterator[None]:
    path = tmp_path / "keda-crd.yaml"
    path.write_text(yaml.safe_dump(KEDA_CRD), encoding="utf-8")
    k8s_cluster.kubectl("apply", "--server-side", "-f", str(path))
    k8s_cluster.kubectl("wait", "--for=condition=Established", "crd/scaledobjects.keda.sh", "--timeout=60s")
    yield
    k8s_cluster.kubectl("delete", "-f", str(path), "--wait=true")


def jobs_ready(kube: Cluster) -> dict[str, Any] | None:
    cond = kube.condition(JOBS_READY)
    return cond if cond.get("status") == "True" else None


def test_jobs_cel_requires_exactly_one_of_url_and_deploy(
    k8s_api: client.ApiClient, k8s_namespace: str, crd: None
) -> None:
    kube = Cluster(k8s_api, k8s_namespace, None)
    for redis in ({}, {"deploy": True, "url": "redis://r:6379/0"}):
        with pytest.raises(ApiException) as err:
            kube.create({"jobs": {"enabled": True, "redis": redis}})
        assert err.value.status == 422 and "exactly one of url and deploy" in err.value.body
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
