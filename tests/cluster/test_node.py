"""The real-node mode itself (tests/cluster/node.py): a node becomes Ready, runs a pod from a locally
built image, the API is reachable at the node IP through the `kubernetes` Service, and a teardown
leaves the host as it was, twice in a row (a second start after a teardown must work).

Runs where a real node can (tests/needs.py `real_node`: root, containerd, `make setup`'s node tools),
fails under CI=true where it cannot; OCR_REAL_NODE=0 turns it off on a developer's machine.
"""

from __future__ import annotations

import ipaddress
import json
import time

import pytest

from tests import needs
from tests.cluster.images import PAUSE_IMAGE
from tests.cluster.node import NODE_IP, NODE_NAME, POD_CIDR, RealNodeCluster, host_leftovers

pytestmark = [pytest.mark.node, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(autouse=True)
def _can_run() -> None:
    needs.real_node()


def _pod_runs(cluster: RealNodeCluster) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "sandbox-only", "namespace": "default"},
        "spec": {
            "containers": [{"name": "pause", "image": PAUSE_IMAGE, "imagePullPolicy": "Never"}],
            "terminationGracePeriodSeconds": 1,
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
    cluster.kubectl("wait", "--for=condition=Ready", "pod/sandbox-only", "--timeout=120s")
    got = json.loads(cluster.kubectl("get", "pod", "sandbox-only", "-o", "json").stdout)
    assert got["spec"]["nodeName"] == NODE_NAME
    assert ipaddress.ip_address(got["status"]["podIP"]) in ipaddress.ip_network(POD_CIDR)


def test_real_node_start_pod_teardown_twice() -> None:
    assert not host_leftovers(), "host not clean before the test"
    for round_ in (1, 2):
        t0 = time.monotonic()
        with RealNodeCluster(images=()) as cluster:
            print(f"round {round_}: node Ready in {time.monotonic() - t0:.1f}s {cluster.timings}")
            nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
            assert [n["metadata"]["name"] for n in nodes] == [NODE_NAME]
            # The `kubernetes` Service points at the node IP, so pods can reach the API.
            eps = json.loads(cluster.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=kubernetes",
                                             "-o", "json").stdout)["items"]  # fmt: skip
            assert [a for e in eps for ep in e["endpoints"] for a in ep["addresses"]] == [NODE_IP]
            _pod_runs(cluster)
        left = host_leftovers()
        assert not left, f"round {round_}: teardown left {left}"
