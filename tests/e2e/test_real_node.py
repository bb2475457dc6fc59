"""The whole system on a real node: `helm install` + one OcrService gives a working, self-scaling OCR
service. Real containerd pods from the locally built images, the chart's operator in a Pod Security
`restricted` namespace, requests through the Service's ClusterIP (kube-proxy), the HPA on real CPU.

The tests run in file order and share one release and one OcrService (starting them costs minutes on
a 2-core machine); each asserts its own step. Opt-in: OCR_REAL_NODE=1 (see conftest.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import pytest
import requests

from ocr_server.recognition.scoring import edit_distance
from tests import needs
from tests.cluster.images import OPERATOR_IMAGE, SERVER_IMAGE
from tests.cluster.node import RealNodeCluster
from tests.e2e.conftest import Receipt, installed_release, kget, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

RELEASE = "ocr"
NAME = "receipts"
SERVER_SELECTOR = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component=ocr-server"
OPERATOR_SELECTOR = "app.kubernetes.io/component=operator"
FIRST_MODEL, NEXT_MODEL = "1.1.0", "1.0.0"  # both bundles ship in the server image
ZH_MODEL = ("crnn-zh", "1.7.0")  # so does the Chinese one
# Small requests so two servers, a surge pod and the HPA test's pods fit on a 2-core node.
RESOURCES = {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


# ---- cluster helpers -----------------------------------------------------------------------------


def ocrservice(cluster: RealNodeCluster, ns: str, name: str) -> dict[str, Any]:
    return kget(cluster, "ocrservice", name, "-n", ns)


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), {})


def ready_pods(cluster: RealNodeCluster, ns: str, selector: str) -> list[dict[str, Any]]:
    pods = kget(cluster, "pods", "-n", ns, "-l", selector)["items"]
    return [
        p
        for p in pods
        if p["metadata"].get("deletionTimestamp") is None
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    ]


def apply_ocrservice(cluster: RealNodeCluster, ns: str, name: str, spec: dict[str, Any]) -> None:
    body = {"apiVersion": "ocr-crnn.io/v1alpha1", "kind": "OcrService", "metadata": {"name": name}, "spec": spec}
    cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(body))


def wait_ready(cluster: RealNodeCluster, ns: str, name: str, timeout: float = 420) -> dict[str, Any]:
    return wait_for(lambda: with_condition(cluster, ns, name, "Ready"), timeout, f"OcrService {name} Ready", 2)


def with_condition(cluster: RealNodeCluster, ns: str, name: str, kind: str) -> dict[str, Any] | None:
    """The OcrService when its condition `kind` is True, else None (for wait_for)."""
    obj = ocrservice(cluster, ns, name)
    return obj if condition(obj, kind).get("status") == "True" else None


def service_url(cluster: RealNodeCluster, ns: str, name: str) -> str:
    svc = kget(cluster, "service", name, "-n", ns)
    return f"http://{svc['spec']['clusterIP']}:{svc['spec']['ports'][0]['port']}"


@dataclass
class Load:
    """A bounded client load through the Service: `threads` loops, each a fresh connection per request.

    Records every outcome; `failures` are anything but HTTP 200 (refused, reset, 5xx, timeout).
    """

    url: str
    image: bytes = field(repr=False)
    threads: int = 2
    max_seconds: float = 600
    outcomes: list[tuple[float, int, str]] = field(default_factory=list, repr=False)  # (time, status, model)
    errors: list[str] = field(default_factory=list, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _loop(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                rsp = requests.post(
                    f"{self.url}/api/v1/ocr",
                    files={"image": ("line.png", self.image)},
                    headers={"Connection": "close"},
                    timeout=60,
                )
                version = rsp.json().get("model", {}).get("version", "") if rsp.status_code == 200 else ""
                with self._lock:
                    self.outcomes.append((time.monotonic(), rsp.status_code, version))
                    if rsp.status_code != 200:
                        self.errors.append(f"HTTP {rsp.status_code}: {rsp.text[:200]}")
            except (requests.RequestException, ValueError) as err:
                with self._lock:
                    self.outcomes.append((time.monotonic(), 0, ""))
                    self.errors.append(repr(err))

    def __enter__(self) -> Load:
        self._workers = [threading.Thread(target=self._loop, daemon=True) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(90)

    @property
    def failures(self) -> int:
        return sum(1 for _, status, _ in self.outcomes if status != 200)


# ---- fixtures: one release, one OcrService -------------------------------------------------------


@pytest.fixture(scope="module")
def release(real_node: RealNodeCluster, e2e_namespace: str) -> Iterator[str]:
    """`helm install` of the chart, operator image from the local build (never pulled)."""
    with installed_release(real_node, e2e_namespace, RELEASE, helm_test_target=NAME) as name:
        yield name


@pytest.fixture(scope="module")
def receipts(real_node: RealNodeCluster, e2e_namespace: str, release: str) -> str:
    """An OcrService with 2 replicas on the first model, Ready."""
    repo, tag = SERVER_IMAGE.rsplit(":", 1)
    spec = {
        "replicas": 2,
        "image": {"repository": repo, "tag": tag, "pullPolicy": "Never"},
        "model": {"name": "crnn-en", "version": FIRST_MODEL},
        "resources": RESOURCES,
    }
    t0 = time.monotonic()
    apply_ocrservice(real_node, e2e_namespace, NAME, spec)
    wait_ready(real_node, e2e_namespace, NAME)
    print(f"OcrService {NAME} (2 replicas) Ready in {time.monotonic() - t0:.1f}s")
    return NAME


# ---- the steps -----------------------------------------------------------------------------------


def test_operator_pod_ready_in_restricted_namespace(
    real_node: RealNodeCluster, e2e_namespace: str, release: str
) -> None:
    ns = kget(real_node, "namespace", e2e_namespace)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = ready_pods(real_node, e2e_namespace, OPERATOR_SELECTOR)
    assert len(pods) == 1, "the chart's operator pod is not Ready"
    pod = pods[0]
    assert pod["spec"]["containers"][0]["image"] == OPERATOR_IMAGE
    assert pod["spec"]["nodeName"] == "ocr-node"
    # It reached the API through the `kubernetes` Service (node IP, kube-proxy) without crashing.
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    # Runs as the image's non-root user (restricted PSA would have rejected anything else).
    uid = real_node.kubectl("exec", "-n", e2e_namespace, pod["metadata"]["name"], "--", "id", "-u").stdout.strip()
    assert uid == "10001"


def test_ocrservice_ready_and_serves_a_receipt_through_its_service(
    real_node: RealNodeCluster, e2e_namespace: str, receipts: str, receipt: Receipt
) -> None:
    table = real_node.kubectl("get", "ocrservices", "-n", e2e_namespace).stdout
    row = next(line.split() for line in table.splitlines() if line.startswith(receipts + " "))
    obj = ocrservice(real_node, e2e_namespace, receipts)
    assert obj["status"]["url"] and obj["status"]["url"] in table, table
    assert row[1] == "True", table  # READY column
    assert obj["status"]["model"].endswith(FIRST_MODEL) or obj["status"].get("modelVersion") == FIRST_MODEL
    pods = ready_pods(real_node, e2e_namespace, SERVER_SELECTOR)
    assert len(pods) == 2 and {p["spec"]["containers"][0]["image"] for p in pods} == {SERVER_IMAGE}

    url = service_url(real_node, e2e_namespace, receipts)
    rsp = requests.post(f"{url}/api/v1/ocr", files={"image": ("receipt.jpg", receipt.image)}, timeout=120)
    assert rsp.status_code == 200, rsp.text[:500]
    body = rsp.json()
    assert body["model"] == {"name": "crnn-en", "version": FIRST_MODEL}
    found = set(body["text"].split())
    recall = sum(w in found for w in receipt.words) / len(receipt.words)
    # The shipped model reads ~95% of characters right on receipts; whole-word recall is stricter.
    assert recall >= 0.6, f"only {recall:.0%} of the receipt's words read: {body['text'][:400]!r}"


def test_model_change_under_load_fails_no_request(
    real_node: RealNodeCluster, e2e_namespace: str, receipts: str, receipt: Receipt
) -> None:
    url = service_url(real_node, e2e_namespace, receipts)
    samples: list[tuple[str | None, dict[str, Any], str | None]] = []  # (modelVersion, Deployment status, Progressing)
    with Load(url, receipt.line_crop, threads=2) as load:
        wait_for(lambda: len(load.outcomes) >= 5, 120, "the load to warm up")
        real_node.kubectl(
            "patch", "ocrservice", receipts, "-n", e2e_namespace, "--type=merge",
            "-p", json.dumps({"spec": {"model": {"version": NEXT_MODEL}}}),
        )  # fmt: skip

        def switched() -> bool:
            obj = ocrservice(real_node, e2e_namespace, receipts)
            deploy = kget(real_node, "deployment", "-n", e2e_namespace, "-l", SERVER_SELECTOR)["items"][0]
            progressing = condition(obj, "Progressing").get("reason")
            samples.append((obj["status"].get("modelVersion"), deploy.get("status", {}), progressing))
            return obj["status"].get("modelVersion") == NEXT_MODEL and condition(obj, "Ready").get("status") == "True"

        wait_for(switched, 600, f"status.modelVersion {NEXT_MODEL} and Ready", interval=1)
        switched_at = time.monotonic()
        wait_for(lambda: any(t > switched_at + 5 for t, _, _ in load.outcomes), 120, "requests after the switch")
    counts = Counter(v for _, _, v in load.outcomes)
    print(f"rollout under load: {len(load.outcomes)} requests, versions {dict(counts)}, failures {load.failures}")
    assert load.failures == 0, f"{load.failures} failed requests during the rollout: {load.errors[:3]}"
    assert counts[FIRST_MODEL] > 0 and counts[NEXT_MODEL] > 0
    # status.modelVersion switched only once the Deployment had fully rolled out ...
    first_new = next(status for version, status, _ in samples if version == NEXT_MODEL)
    assert first_new.get("updatedReplicas") == first_new.get("replicas") == 2, first_new
    # ... and the old model's pods, terminating ones included, were gone (the last one terminates
    # through its 5 s preStop sleep after the rollout completed, so the 1 s samples see the wait) ...
    assert "TerminatingOldPods" in {reason for version, _, reason in samples if version != NEXT_MODEL}
    # ... so every request answered after it came from the new model.
    assert {v for t, _, v in load.outcomes if t > switched_at} == {NEXT_MODEL}


def test_server_pod_deleted_under_load_service_keeps_answering(
    real_node: RealNodeCluster, e2e_namespace: str, receipts: str, receipt: Receipt
) -> None:
    url = service_url(real_node, e2e_namespace, receipts)
    victim = ready_pods(real_node, e2e_namespace, SERVER_SELECTOR)[0]["metadata"]["name"]
    with Load(url, receipt.line_crop, threads=2) as load:
        wait_for(lambda: len(load.outcomes) >= 5, 120, "the load to warm up")
        real_node.kubectl("delete", "pod", victim, "-n", e2e_namespace, "--wait=true", "--timeout=120s")
        wait_for(lambda: len(ready_pods(real_node, e2e_namespace, SERVER_SELECTOR)) == 2, 300, "a replacement pod")
        after = len(load.outcomes)
        wait_for(lambda: len(load.outcomes) >= after + 5, 120, "requests after the replacement")
    print(f"pod deletion under load: {len(load.outcomes)} requests, failures {load.failures}")
    assert load.failures == 0, f"{load.failures} failed requests: {load.errors[:3]}"


def test_operator_pod_deleted_comes_back_and_repairs_drift(
    real_node: RealNodeCluster, e2e_namespace: str, receipts: str
) -> None:
    old = ready_pods(real_node, e2e_namespace, OPERATOR_SELECTOR)[0]["metadata"]["name"]
    deploy = kget(real_node, "deployment", "-n", e2e_namespace, "-l", SERVER_SELECTOR)["items"][0]["metadata"]["name"]
    real_node.kubectl("delete", "pod", old, "-n", e2e_namespace, "--wait=false")
    # Drift while the operator is away: someone scales the server Deployment down by hand.
    real_node.kubectl("scale", "deployment", deploy, "-n", e2e_namespace, "--replicas=1")
    new = wait_for(
        lambda: [p for p in ready_pods(real_node, e2e_namespace, OPERATOR_SELECTOR) if p["metadata"]["name"] != old],
        300,
        "a new operator pod Ready",
        interval=2,
    )
    assert len(new) == 1
    wait_for(
        lambda: kget(real_node, "deployment", deploy, "-n", e2e_namespace)["spec"]["replicas"] == 2,
        180,
        "the operator to restore replicas: 2",
        interval=2,
    )
    wait_ready(real_node, e2e_namespace, receipts, timeout=300)


def test_helm_test_passes(real_node: RealNodeCluster, e2e_namespace: str, receipts: str) -> None:
    if not real_node.has_dns():
        needs.missing("no CoreDNS built (make node-build): helm test calls NAME.NAMESPACE.svc")
    result = real_node.helm("test", RELEASE, "-n", e2e_namespace, "--timeout=5m", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_switch_to_the_chinese_model_reads_chinese(
    real_node: RealNodeCluster, e2e_namespace: str, receipts: str
) -> None:
    """`spec.model: {name: crnn-zh, version: 1.7.0}` (issue 19) rolls the pods onto the Chinese bundle the
    image ships, and the same Service then reads a rendered Chinese page in Chinese, in UTF-8 JSON."""
    from tests.ocr_server.cjk_support import render_lines

    patch = {"spec": {"model": {"name": ZH_MODEL[0], "version": ZH_MODEL[1]}}}
    real_node.kubectl("patch", "ocrservice", receipts, "-n", e2e_namespace, "--type=merge", "-p", json.dumps(patch))

    def on_zh() -> dict[str, Any] | None:
        obj = ocrservice(real_node, e2e_namespace, receipts)
        ready = condition(obj, "Ready").get("status") == "True"
        return obj if ready and obj["status"].get("model") == f"{ZH_MODEL[0]}-{ZH_MODEL[1]}" else None

    wait_for(on_zh, 600, f"status.model {ZH_MODEL[0]}-{ZH_MODEL[1]} and Ready", interval=2)
    lines = ["增值税专用发票", "价税合计 ¥1,234.56", "开票日期 2026年11月30日"]
    page = render_lines(lines, "noto-sans", size=32)
    ok, png = cv2.imencode(".png", page.pixels)
    assert ok
    url = service_url(real_node, e2e_namespace, receipts)

    # status.model switches once the Deployment has rolled out and the old model's pods, terminating
    # ones included, are gone: every answer from now on is the Chinese model's (several tries, all of it)
    for _ in range(3):
        rsp = requests.post(f"{url}/api/v1/ocr", files={"image": ("fapiao.png", png.tobytes())}, timeout=120)
        assert rsp.status_code == 200, rsp.text[:500]
        assert rsp.json()["model"] == {"name": ZH_MODEL[0], "version": ZH_MODEL[1]}, rsp.json()["model"]
    assert rsp.headers["Content-Type"].lower().replace(" ", "") == "application/json;charset=utf-8"
    body = rsp.json()
    read, truth = "".join(body["text"].split()), "".join("".join(lines).split())
    errors = edit_distance(read, truth) / len(truth)
    assert errors <= 0.15, f"read {body['text']!r} for {lines!r} (CER {errors:.0%})"
    # back to English for the steps that follow (the helm test reads an English receipt)
    real_node.kubectl(
        "patch", "ocrservice", receipts, "-n", e2e_namespace, "--type=merge",
        "-p", json.dumps({"spec": {"model": {"name": "crnn-en", "version": NEXT_MODEL}}}),
    )  # fmt: skip
    wait_ready(real_node, e2e_namespace, receipts, timeout=600)


def test_hpa_scales_up_under_cpu_load_and_back(
    real_node: RealNodeCluster, e2e_namespace: str, release: str, receipt: Receipt
) -> None:
    if not real_node.has_metrics():
        needs.missing("no metrics-server built (make node-build): the HPA has no CPU metrics")
    name = "autoscaled"
    repo, tag = SERVER_IMAGE.rsplit(":", 1)
    spec = {
        "image": {"repository": repo, "tag": tag, "pullPolicy": "Never"},
        "autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 3, "targetCPUUtilizationPercentage": 50},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    }
    apply_ocrservice(real_node, e2e_namespace, name, spec)
    wait_ready(real_node, e2e_namespace, name)
    real_node.wait_for_metrics()
    hpa = kget(real_node, "hpa", "-n", e2e_namespace, "-l", "app.kubernetes.io/instance=" + name)["items"]
    hpa_name = hpa[0]["metadata"]["name"] if hpa else name

    def replicas() -> int:
        return int(kget(real_node, "hpa", hpa_name, "-n", e2e_namespace).get("status", {}).get("desiredReplicas", 0))

    url = service_url(real_node, e2e_namespace, name)
    t0 = time.monotonic()
    with Load(url, receipt.image, threads=3, max_seconds=300):
        wait_for(lambda: replicas() > 1, 240, "the HPA to scale above minReplicas", interval=2)
        up = time.monotonic() - t0
    t1 = time.monotonic()
    wait_for(lambda: replicas() == 1, 300, "the HPA to scale back to 1 after the load", interval=3)
    print(f"HPA: above min {up:.0f}s into the load, back to 1 {time.monotonic() - t1:.0f}s after it")
    real_node.kubectl("delete", "ocrservice", name, "-n", e2e_namespace, "--wait=true", "--timeout=120s")


def test_missing_image_is_degraded_with_reason(real_node: RealNodeCluster, e2e_namespace: str, release: str) -> None:
    name = "broken-image"
    spec = {
        "replicas": 1,
        "image": {"repository": "localhost/ocr-server-does-not-exist", "tag": "nope", "pullPolicy": "Never"},
        "progressDeadlineSeconds": 30,
        "resources": RESOURCES,
    }
    apply_ocrservice(real_node, e2e_namespace, name, spec)

    def image_missing() -> str | None:
        for pod in kget(real_node, "pods", "-n", e2e_namespace, "-l", f"app.kubernetes.io/instance={name}")["items"]:
            for status in pod["status"].get("containerStatuses", []):
                reason = status.get("state", {}).get("waiting", {}).get("reason")
                if reason in {"ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff"}:
                    return str(reason)
        return None

    wait_for(image_missing, 120, "the pod to report its image missing")
    obj = wait_for(lambda: with_condition(real_node, e2e_namespace, name, "Degraded"), 180, "Degraded=True", 2)
    assert condition(obj, "Ready")["status"] == "False"
    progressing = condition(obj, "Progressing")
    assert progressing["status"] == "False" and progressing["reason"] == "ProgressDeadlineExceeded", progressing
    assert condition(obj, "Degraded")["reason"] == "ProgressDeadlineExceeded"
    real_node.kubectl("delete", "ocrservice", name, "-n", e2e_namespace, "--wait=true", "--timeout=120s")


def test_uninstall_leaves_no_pods(real_node: RealNodeCluster, e2e_namespace: str, release: str) -> None:
    real_node.kubectl("delete", "ocrservices", "--all", "-n", e2e_namespace, "--wait=true", "--timeout=180s")
    real_node.helm("uninstall", RELEASE, "-n", e2e_namespace, "--wait", "--timeout=3m")
    wait_for(
        lambda: not kget(real_node, "pods", "-n", e2e_namespace)["items"],
        180,
        "no pods left in the namespace",
        interval=2,
    )
