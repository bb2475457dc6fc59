"""Fixtures for the operator's tests: the unit tests' fake API, and the cluster tests' CRD,
operator and :class:`~tests.ocr_operator.ocrs_cluster.Cluster` (requested only by the k8s tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.ocr_operator.helpers import FakeApi
from tests.ocr_operator.ocrs_cluster import Cluster, install_crd
from tests.ocr_operator.operator_proc import OperatorProcess


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi()


@pytest.fixture(scope="module")
def crd(k8s_cluster: Any) -> None:
    install_crd(k8s_cluster)


@pytest.fixture(scope="module")
def operator(
    k8s_cluster: Any, crd: None, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[OperatorProcess]:
    """One operator for the whole module, serving the module's ``NAMESPACE_GLOB`` (each cluster test
    module names its own, so operators of different modules never share a namespace)."""
    log_path = tmp_path_factory.mktemp("operator") / "operator.log"
    with OperatorProcess(k8s_cluster.kubeconfig, log_path, namespaces=request.module.NAMESPACE_GLOB) as proc:
        yield proc


@pytest.fixture
def kube(k8s_api: client.ApiClient, k8s_namespace: str, operator: OperatorProcess) -> Cluster:
    return Cluster(k8s_api, k8s_namespace, operator)
