"""Fixtures for the end-to-end tests on a real node (tests/cluster/node.py): real pods, no fakes.

Part of `make test` (and `make test-node` alone): a run needs root, Debian's containerd, the node
binaries and the images (`make setup` builds both; images are cached by content under
~/.cache/ocr-crnn/images). Missing requirements skip locally and fail under CI=true (same discipline
as the KWOK tests, tests/needs.py); OCR_REAL_NODE=0 turns them off on a developer's machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import needs
from tests.cluster.fixtures import RESTRICTED_LABELS
from tests.cluster.images import OPERATOR_IMAGE
from tests.cluster.node import RealNodeCluster, host_leftovers

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "ocr-crnn"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is a `node` test (so `-m "not node"` deselects them)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents and not item.get_closest_marker("node"):
            item.add_marker(pytest.mark.node)


@pytest.fixture(scope="package")
def real_node() -> Iterator[RealNodeCluster]:
    """One real node for the tests of this package (stopped when they are done, not at the end of the
    whole suite); teardown asserts the host is left as it was found."""
    needs.real_node()
    cluster = RealNodeCluster(images=("server", "operator", "redis"))
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


@contextlib.contextmanager
def installed_release(cluster: RealNodeCluster, namespace: str, name: str, helm_test_target: str) -> Iterator[str]:
    """`helm install --wait` of the chart with the locally built operator image (never pulled); on exit
    every OcrService in the namespace is deleted, then the release is uninstalled."""
    repo, tag = OPERATOR_IMAGE.rsplit(":", 1)
    t0 = time.monotonic()
    cluster.helm(
        "install", name, str(CHART), "-n", namespace,
        "--set", f"operator.image.repository={repo}", "--set", f"operator.image.tag={tag}",
        "--set", "operator.image.pullPolicy=Never", "--set", f"tests.target.name={helm_test_target}",
        "--wait", "--timeout=5m",
    )  # fmt: skip
    print(f"helm install --wait: {time.monotonic() - t0:.1f}s")
    try:
        yield name
    finally:
        cluster.kubectl("delete", "ocrservices", "--all", "-n", namespace, "--wait=true", "--timeout=120s", check=False)
        cluster.helm("uninstall", name, "-n", namespace, "--wait", check=False)


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


@dataclass(frozen=True)
class Receipt:
    """A real receipt from sroie-dev: its bytes, its ground-truth words, and one line cropped from it."""

    image: bytes
    words: list[str]
    line_crop: bytes  # one line of it: a cheap request for load loops


@pytest.fixture(scope="module")
def receipt() -> Receipt:
    """The smallest of the first ten sroie-dev receipts (as tests/ocr_server), with its ground truth."""
    from PIL import Image

    sroie_dev = needs.shared_dataset("sroie-dev")
    manifest = sroie_dev / "pages.jsonl"
    pages = [json.loads(line) for line in manifest.read_text().splitlines()[:10]]
    page = min(pages, key=lambda p: p["width"] * p["height"])
    path = sroie_dev / page["image"]
    box = page["lines"][0]["box"]
    crop = io.BytesIO()
    Image.open(path).convert("L").crop((box[0] - 4, box[1] - 4, box[2] + 4, box[3] + 4)).save(crop, "PNG")
    words = [w for line in page["lines"] for w in line["text"].split()]
    return Receipt(path.read_bytes(), words, crop.getvalue())
