"""Fixtures for the end-to-end tests on a real node (tests/cluster/node.py): real pods, no fakes.

Opt-in (`OCR_REAL_NODE=1`, `make test-node`): a run needs root, Debian's containerd, the node
binaries (`make node-build`) and the images (built with buildah on first use, minutes; cached by
content under .tools/images). Without OCR_REAL_NODE the tests skip, saying so; with it, missing
requirements skip locally and fail under CI=true (same discipline as the KWOK tests).
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.fixtures import RESTRICTED_LABELS
from tests.cluster.node import RealNodeCluster, host_leftovers, missing_node_requirements

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "ocr-crnn"
OPT_IN = "OCR_REAL_NODE"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is a `node` test (so `-m "not node"` deselects them)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents and not item.get_closest_marker("node"):
            item.add_marker(pytest.mark.node)


@pytest.fixture(scope="session")
def real_node() -> Iterator[RealNodeCluster]:
    """One real node for the session; teardown asserts the host is left as it was found."""
    if os.environ.get(OPT_IN) != "1":
        pytest.skip(f"real-node tests are opt-in: {OPT_IN}=1 (make test-node)")
    missing = missing_node_requirements()
    if missing:
        message = "real node not possible here: " + "; ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    cluster = RealNodeCluster()
    try:
        cluster.start()
        print(f"real node up: {cluster.timings}")
        yield cluster
    finally:
        cluster.stop()
    left = host_leftovers()
    assert not left, f"the real node's teardown left host changes behind: {left}"


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    """Poll until `predicate()` is truthy and return it; fail naming `what` (bounded)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def kget(cluster: RealNodeCluster, *args: str) -> Any:
    """`kubectl get ARGS -o json`, parsed."""
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


@pytest.fixture(scope="module")
def e2e_namespace(real_node: RealNodeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A Pod Security `restricted` namespace for one test module (the chart and the servers go here)."""
    stem = re.sub(r"[^a-z0-9-]+", "-", request.module.__name__.split(".")[-1].lower()).strip("-")[:30]
    name = f"e2e-{stem}-{uuid.uuid4().hex[:5]}"
    labels = [f"{k}={v}" for k, v in RESTRICTED_LABELS.items()]
    real_node.kubectl("create", "namespace", name)
    real_node.kubectl("label", "namespace", name, *labels)
    wait_for(
        lambda: real_node.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
        60,
        "the namespace's default ServiceAccount",
    )
    yield name
    real_node.kubectl("delete", "namespace", name, "--wait=false", check=False)
