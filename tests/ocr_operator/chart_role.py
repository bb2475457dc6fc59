"""The operator under exactly the chart's RBAC, for tests against the local API server.

Three test modules (the core resilience run, jobs, canaries) each check that every call the operator
made was granted by the chart's role: one helper sets that role up, so they cannot drift apart in how
they do it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from ocr_operator.permissions import REQUIRED, Permission, parse_rules, parse_used
from tests.ocr_operator.operator_proc import OperatorProcess

SERVICE_ACCOUNT = "ocr-operator"


def sa_kubeconfig(k8s_cluster: Any, api: client.ApiClient, namespace: str, sa: str, path: Path) -> Path:
    """A kubeconfig for the API server that authenticates as ServiceAccount ``sa`` (created here)."""
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": sa}})
    token = core.create_namespaced_service_account_token(
        sa, namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    admin = yaml.safe_load(Path(k8s_cluster.kubeconfig).read_text())
    admin["users"] = [{"name": sa, "user": {"token": token}}]
    for ctx in admin["contexts"]:
        ctx["context"]["user"] = sa
    path.write_text(yaml.safe_dump(admin))
    return path


def _bind(kind: str, name: str, namespace: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}],
    }


@contextmanager
def chart_role(
    k8s_cluster: Any, k8s_api: client.ApiClient, namespace: str, tmp_path: Path
) -> Iterator[tuple[Path, set[Permission]]]:
    """The chart rendered for exactly ``namespace`` (namespaced mode: its Role here, and the read-only
    discovery ClusterRole), bound to a ServiceAccount; yields that account's kubeconfig and the
    permissions the Role grants.  The cluster-scoped objects are deleted on exit."""
    chart_tools = pytest.importorskip("tests.chart.chart_tools")
    manifests = chart_tools.render("default", "--set", f"operator.watchNamespaces={{{namespace}}}")
    rbac = client.RbacAuthorizationV1Api(k8s_api)
    role = chart_tools.one(manifests, "Role", "ocr-ocr-crnn-operator")
    assert role["metadata"]["namespace"] == namespace
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "operator"}, "rules": role["rules"]})
    rbac.create_namespaced_role_binding(namespace, _bind("Role", "operator", namespace))
    name = f"ocr-discovery-{namespace[-6:]}"
    discovery = chart_tools.one(manifests, "ClusterRole", "ocr-ocr-crnn-discovery")
    rbac.create_cluster_role({"metadata": {"name": name}, "rules": discovery["rules"]})
    try:
        rbac.create_cluster_role_binding(_bind("ClusterRole", name, namespace))
        kubeconfig = sa_kubeconfig(k8s_cluster, k8s_api, namespace, SERVICE_ACCOUNT, tmp_path / "sa.kubeconfig")
        yield kubeconfig, parse_rules(role["rules"])
    finally:
        for delete in (rbac.delete_cluster_role_binding, rbac.delete_cluster_role):
            try:
                delete(name)
            except ApiException as err:
                if err.status != 404:
                    raise


def granted_calls(proc: OperatorProcess, granted: set[Permission]) -> set[Permission]:
    """The API calls ``proc`` made over its whole run, after checking each was granted by the chart's
    role and is declared in ``REQUIRED``, and that nothing was refused; the caller then checks that
    the run took the paths it meant to (a run that made no calls would pass these checks)."""
    time.sleep(10.5)  # kopf caches probe results for 10 s: read the calls of the whole run
    used = parse_used(proc.health()["apiCalls"])
    log = proc.log()
    assert used <= granted, f"used but not granted: {sorted(used - granted)}"
    assert used <= REQUIRED
    assert "forbidden" not in log.lower(), [line for line in log.splitlines() if "orbidden" in line][:5]
    return used
