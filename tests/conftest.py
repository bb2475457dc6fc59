"""Project-wide pytest fixtures for the local Kubernetes cluster (tests marked `k8s`).

The logic lives in tests/cluster/ (launcher.py, fixtures.py); build the
binaries with `make cluster-build` (tests/cluster/build.sh).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.cluster import fixtures
from tests.cluster.launcher import LocalCluster

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    fixtures.mark_cluster_tests(items)


@pytest.fixture(scope="session")
def k8s_cluster() -> Iterator[LocalCluster]:
    """The started LocalCluster shared by the whole session (skips without binaries, fails in CI)."""
    yield from fixtures.session_cluster()


@pytest.fixture(scope="session")
def k8s_api(k8s_cluster: LocalCluster) -> Iterator[ApiClient]:
    """A kubernetes.client.ApiClient with admin rights on k8s_cluster."""
    yield from fixtures.api_client(k8s_cluster)


@pytest.fixture
def k8s_namespace(k8s_api: ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace (PodSecurity enforce=restricted) for one test, deleted afterwards."""
    yield from fixtures.namespace(k8s_api, request.node.name)
