"""Proof that the local cluster is a real Kubernetes control plane, not a mock.

Each test exercises behaviour only a real API server plus controllers have:
rollouts through the scheduler and KWOK (and stuck ones, with the project's
never-ready KWOK stage), garbage collection via owner
references, CEL validation, PodSecurity admission, server-side apply conflicts,
the HPA controller, namespace finalization, and helm against the live API.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

from tests.cluster.launcher import NEVER_READY_ANNOTATION, LocalCluster

pytestmark = pytest.mark.k8s

T = TypeVar("T")
VERSIONS = Path(__file__).with_name("versions.env")
# Restricted-compliant container settings: admitted in an enforce=restricted namespace.
RESTRICTED_CONTAINER: dict[str, Any] = {
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
}


def wait_for(probe: Callable[[], T | None], timeout: float = 60.0, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy and return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def pinned(key: str) -> str:
    for line in VERSIONS.read_text().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1].strip()
    raise KeyError(key)


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    container = {"name": "app", "image": "registry.invalid/ocr-crnn/fake:1", **RESTRICTED_CONTAINER}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def create_ready_deployment(api: ApiClient, namespace: str, name: str, replicas: int = 2) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, deployment(name, replicas))
    wait_for(
        lambda: (apps.read_namespaced_deployment_status(name, namespace).status.available_replicas or 0) == replicas,
        what=f"deployment {name} to report {replicas} available replicas",
    )


def pods_of(api: ApiClient, namespace: str, app: str) -> list[client.V1Pod]:
    return client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"app={app}").items


def test_server_reports_pinned_version(k8s_cluster: LocalCluster) -> None:
    out = json.loads(k8s_cluster.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"] == pinned("KUBERNETES_VERSION")
    assert out["clientVersion"]["gitVersion"] == pinned("KUBERNETES_VERSION")


def test_fake_nodes_are_ready(k8s_cluster: LocalCluster, k8s_api: ApiClient) -> None:
    nodes = client.CoreV1Api(k8s_api).list_node().items
    assert sorted(n.metadata.name for n in nodes) == sorted(k8s_cluster.node_names)
    for node in nodes:
        assert {c.type: c.status for c in node.status.conditions}["Ready"] == "True"


def test_deployment_pods_become_running_and_ready(
    k8s_cluster: LocalCluster, k8s_api: ApiClient, k8s_namespace: str
) -> None:
    create_ready_deployment(k8s_api, k8s_namespace, "web", replicas=3)
    pods = pods_of(k8s_api, k8s_namespace, "web")
    assert len(pods) == 3
    for pod in pods:
        assert pod.spec.node_name in k8s_cluster.node_names  # bound by kube-scheduler
        assert pod.status.phase == "Running"  # moved along by kwok
        assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
        assert pod.status.pod_ip


def test_deleting_deployment_garbage_collects_replicaset_and_pods(k8s_api: ApiClient, k8s_namespace: str) -> None:
    apps = client.AppsV1Api(k8s_api)
    create_ready_deployment(k8s_api, k8s_namespace, "gc")
    (rs,) = apps.list_namespaced_replica_set(k8s_namespace, label_selector="app=gc").items
    assert rs.metadata.owner_references[0].kind == "Deployment"
    assert pods_of(k8s_api, k8s_namespace, "gc")[0].metadata.owner_references[0].name == rs.metadata.name

    apps.delete_namespaced_deployment("gc", k8s_namespace, propagation_policy="Background")
    wait_for(
        lambda: not apps.list_namespaced_replica_set(k8s_namespace, label_selector="app=gc").items,
        what="the ReplicaSet to be garbage-collected",
    )
    wait_for(lambda: not pods_of(k8s_api, k8s_namespace, "gc"), what="the pods to be garbage-collected")


def test_never_ready_pods_make_a_rollout_exceed_its_progress_deadline(k8s_api: ApiClient, k8s_namespace: str) -> None:
    """The project's KWOK stage: an annotated pod stays Running and unready (as with a failing
    readiness probe), so the Deployment controller reports ProgressDeadlineExceeded; pods without
    the annotation in the same namespace still become Ready at once."""
    apps = client.AppsV1Api(k8s_api)
    key, value = NEVER_READY_ANNOTATION
    stuck = deployment("stuck", replicas=1)
    stuck["spec"]["progressDeadlineSeconds"] = 2
    stuck["spec"]["template"]["metadata"]["annotations"] = {key: value}
    apps.create_namespaced_deployment(k8s_namespace, stuck)
    create_ready_deployment(k8s_api, k8s_namespace, "fine", replicas=1)

    def progressing(name: str) -> Any:
        conditions = apps.read_namespaced_deployment_status(name, k8s_namespace).status.conditions or []
        return next((c for c in conditions if c.type == "Progressing"), None)

    cond = wait_for(
        lambda: (c := progressing("stuck")) is not None and c.status == "False" and c,
        what="the stuck Deployment's Progressing=False",
    )
    assert cond.reason == "ProgressDeadlineExceeded"
    (pod,) = pods_of(k8s_api, k8s_namespace, "stuck")
    assert pod.status.phase == "Running" and pod.status.pod_ip
    conditions = {c.type: c.status for c in pod.status.conditions}
    assert (conditions["Ready"], conditions["ContainersReady"]) == ("False", "False")
    assert [(s.ready, s.started, s.state.running is not None) for s in pod.status.container_statuses] == [
        (False, True, True)
    ]
    status = apps.read_namespaced_deployment_status("stuck", k8s_namespace).status
    assert (status.ready_replicas or 0, status.available_replicas or 0) == (0, 0)
    assert progressing("fine").reason == "NewReplicaSetAvailable"


def _cel_crd(group: str) -> dict[str, Any]:
    spec_schema = {
        "type": "object",
        "required": ["minReplicas", "maxReplicas"],
        "properties": {"minReplicas": {"type": "integer"}, "maxReplicas": {"type": "integer"}},
        "x-kubernetes-validations": [
            {"rule": "self.minReplicas <= self.maxReplicas", "message": "minReplicas must not exceed maxReplicas"}
        ],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": spec_schema}}},
                }
            ],
        },
    }


def _crd_established(ext: client.ApiextensionsV1Api, name: str) -> bool:
    conditions = ext.read_custom_resource_definition(name).status.conditions or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


def test_crd_cel_rule_rejects_invalid_object(k8s_api: ApiClient, k8s_namespace: str) -> None:
    group = f"cel{uuid.uuid4().hex[:6]}.test.ocr-crnn.io"  # CRDs are cluster-wide: never reuse
    ext, custom = client.ApiextensionsV1Api(k8s_api), client.CustomObjectsApi(k8s_api)
    crd = ext.create_custom_resource_definition(_cel_crd(group))
    try:
        wait_for(lambda: _crd_established(ext, crd.metadata.name), what="the CRD to be Established")

        def widget(name: str, low: int, high: int) -> dict[str, Any]:
            return {
                "apiVersion": f"{group}/v1",
                "kind": "Widget",
                "metadata": {"name": name},
                "spec": {"minReplicas": low, "maxReplicas": high},
            }

        custom.create_namespaced_custom_object(group, "v1", k8s_namespace, "widgets", widget("good", 1, 3))
        with pytest.raises(ApiException) as err:
            custom.create_namespaced_custom_object(group, "v1", k8s_namespace, "widgets", widget("bad", 5, 2))
        assert err.value.status == 422
        assert "minReplicas must not exceed maxReplicas" in json.loads(err.value.body)["message"]
    finally:
        ext.delete_custom_resource_definition(crd.metadata.name)


def _pod(name: str, container_extra: dict[str, Any]) -> dict[str, Any]:
    container = {"name": "app", "image": "registry.invalid/ocr-crnn/fake:1", **container_extra}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container]}}


def test_privileged_pod_rejected_in_restricted_namespace(k8s_api: ApiClient, k8s_namespace: str) -> None:
    core = client.CoreV1Api(k8s_api)
    labels = core.read_namespace(k8s_namespace).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

    core.create_namespaced_pod(k8s_namespace, _pod("compliant", RESTRICTED_CONTAINER))  # control: admitted
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod(k8s_namespace, _pod("privileged", {"securityContext": {"privileged": True}}))
    assert err.value.status == 403
    message = json.loads(err.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message
    assert 'privileged (container "app" must not set securityContext.privileged=true)' in message


def _configmap_yaml(namespace: str, value: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ssa", "namespace": namespace},
            "data": {"mode": value},
        }
    )


def test_server_side_apply_with_field_manager(
    k8s_cluster: LocalCluster, k8s_api: ApiClient, k8s_namespace: str
) -> None:
    def apply(manager: str, value: str, *extra: str) -> Any:
        return k8s_cluster.kubectl(
            "apply",
            "--server-side",
            f"--field-manager={manager}",
            *extra,
            "-f",
            "-",
            input=_configmap_yaml(k8s_namespace, value),
            check=False,
        )

    assert apply("ocr-operator", "fast").returncode == 0
    cm = client.CoreV1Api(k8s_api).read_namespaced_config_map("ssa", k8s_namespace)
    managers = {(m.manager, m.operation) for m in cm.metadata.managed_fields}
    assert ("ocr-operator", "Apply") in managers

    conflict = apply("someone-else", "slow")
    assert conflict.returncode != 0
    assert "conflict" in conflict.stderr.lower() and "ocr-operator" in conflict.stderr

    assert apply("someone-else", "slow", "--force-conflicts").returncode == 0
    cm = client.CoreV1Api(k8s_api).read_namespaced_config_map("ssa", k8s_namespace)
    assert cm.data == {"mode": "slow"}
    assert "someone-else" in {m.manager for m in cm.metadata.managed_fields}


def test_hpa_is_accepted_and_acted_on(k8s_api: ApiClient, k8s_namespace: str) -> None:
    create_ready_deployment(k8s_api, k8s_namespace, "scaled", replicas=1)
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "scaled"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scaled"},
            "minReplicas": 2,
            "maxReplicas": 4,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
                }
            ],
        },
    }
    created = client.AutoscalingV2Api(k8s_api).create_namespaced_horizontal_pod_autoscaler(k8s_namespace, hpa)
    assert created.spec.min_replicas == 2
    # No metrics server here, but the HPA controller still enforces minReplicas.
    apps = client.AppsV1Api(k8s_api)
    wait_for(
        lambda: apps.read_namespaced_deployment("scaled", k8s_namespace).spec.replicas == 2,
        what="the HPA controller to scale the deployment up to minReplicas",
    )


def test_namespace_deletion_completes(k8s_api: ApiClient) -> None:
    core = client.CoreV1Api(k8s_api)
    name = f"t-ns-delete-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(name, {"metadata": {"name": "x"}, "data": {"k": "v"}})
    core.delete_namespace(name)

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as err:
            return err.status == 404
        return False

    wait_for(gone, what="the namespace controller to finish deleting the namespace")


def test_helm_installs_a_chart(
    k8s_cluster: LocalCluster, k8s_api: ApiClient, k8s_namespace: str, tmp_path: Path
) -> None:
    chart = tmp_path / "hello"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: hello\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n"
        "  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
    )
    k8s_cluster.helm("install", "demo", str(chart), "--namespace", k8s_namespace, "--wait", "--timeout", "60s")
    cm = client.CoreV1Api(k8s_api).read_namespaced_config_map("demo-cm", k8s_namespace)
    assert cm.data["kube"] == pinned("KUBERNETES_VERSION")
    k8s_cluster.helm("uninstall", "demo", "--namespace", k8s_namespace)


@pytest.mark.slow
def test_second_cluster_starts_and_leaves_nothing_behind(k8s_cluster: LocalCluster) -> None:
    """A private cluster: its processes and temp dir are gone after the context exits."""
    with LocalCluster(bin_dir=k8s_cluster.bin_dir, nodes=1) as cluster:
        assert cluster.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
        pids = [p.pid for p in cluster._procs if p.pid]
        workdir = cluster.workdir
    assert len(pids) == 5
    assert workdir is not None and not workdir.exists()
    survivors = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert not survivors, f"processes survived the cluster: {survivors}"
