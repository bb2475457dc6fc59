"""The logic behind the cluster fixtures in tests/conftest.py.

Why here: conftest.py stays a thin list of fixtures every engineer can read at a
glance; starting, skipping and cleaning up lives next to the launcher.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.cluster.launcher import BUILD_HINT, LocalCluster, missing_binaries

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# Fixtures that need the cluster; tests using them are auto-marked `k8s`.
CLUSTER_FIXTURES = frozenset({"k8s_cluster", "k8s_namespace", "k8s_api"})
RESTRICTED_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


def mark_cluster_tests(items: list[pytest.Item]) -> None:
    """Add the `k8s` marker to every test that uses a cluster fixture.

    Why: `-m "not k8s"` must deselect them even when an author forgot the mark.
    """
    for item in items:
        if CLUSTER_FIXTURES.intersection(getattr(item, "fixturenames", ())) and not item.get_closest_marker("k8s"):
            item.add_marker(pytest.mark.k8s)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt("SIGTERM")


def _exit_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C: pytest then stops the run but still runs finalizers (cluster stop).

    Only when nobody else installed a handler; the children die with us anyway
    (PDEATHSIG), this is about removing the temp dir too.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def session_cluster() -> Iterator[LocalCluster]:
    """Start one cluster for the whole session; skip (or fail in CI) without binaries."""
    missing = missing_binaries()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"cluster binaries missing in CI ({', '.join(missing)}): {BUILD_HINT}", pytrace=False)
        pytest.skip(BUILD_HINT)
    _exit_on_sigterm()
    cluster = LocalCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def api_client(cluster: LocalCluster) -> Iterator[ApiClient]:
    """A kubernetes.client.ApiClient for the admin kubeconfig of `cluster`."""
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    try:
        yield client
    finally:
        client.close()


def _namespace_name(test_name: str) -> str:
    """A DNS-1123 label unique per test call, readable in `kubectl get ns`."""
    stem = re.sub(r"[^a-z0-9-]+", "-", test_name.lower()).strip("-")[:40].rstrip("-")
    return f"t-{stem}-{uuid.uuid4().hex[:6]}"


def namespace(api: ApiClient, test_name: str, timeout: float = 60.0) -> Iterator[str]:
    """Create a PodSecurity-restricted namespace, wait until pods can be created in it, delete it after."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(api)
    name = _namespace_name(test_name)
    body: dict[str, Any] = {"metadata": {"name": name, "labels": RESTRICTED_LABELS}}
    core.create_namespace(body)
    try:
        # The ServiceAccount admission plugin rejects pods until the controller
        # made the namespace's `default` ServiceAccount.
        deadline = time.monotonic() + timeout
        while True:
            try:
                core.read_namespaced_service_account("default", name)
                break
            except ApiException as err:
                if err.status != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield name
    finally:
        # Don't wait for the namespace controller: deletion finishes in the background.
        try:
            core.delete_namespace(name)
        except ApiException as err:
            if err.status != 404:
                raise
