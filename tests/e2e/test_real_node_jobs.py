"""Batch jobs on real pods: an OcrService with `spec.jobs` enabled and the operator's own Redis.

What KWOK cannot show: the operator-run Redis and the Celery worker really start under Pod Security
`restricted` (Redis as UID 999 on a read-only root file system, the worker as the server image's
UID 10001), the server reaches Redis by its Service's DNS name (CoreDNS), a job submitted through
the OcrService's Service is run by the worker pod and reads the receipt right, and the worker's
Prometheus endpoint counts what it did.  And a model change rolls server and worker pods while jobs
keep arriving: every job is read with the model it was pinned to and no page fails (a worker holding
the other model hands a page back to the queue rather than failing it).

The Redis image is Debian's redis-server built locally (tests/cluster/node/redis.Dockerfile): the
operator's default comes from a registry, and none is reachable here.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.cluster.images import REDIS_IMAGE, SERVER_IMAGE
from tests.cluster.node import RealNodeCluster
from tests.e2e.conftest import Receipt, installed_release, kget, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

NAME = "batch"
SMALL = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
COMPONENTS = {"server": "ocr-server", "worker": "ocr-worker", "redis": "redis"}
WORKER_METRICS_PORT = 9100  # jobs.metricsPort as the operator renders it


def _pods(cluster: RealNodeCluster, ns: str, component: str) -> list[dict[str, Any]]:
    selector = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component={COMPONENTS[component]}"
    return [
        p
        for p in kget(cluster, "pods", "-n", ns, "-l", selector)["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def _metric(text: str, name: str, labels: str = "") -> float:
    """Sum of the samples of `name` whose label set contains `labels` (Prometheus text format)."""
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})?\s+([0-9.eE+-]+)$", re.MULTILINE)
    return sum(float(m.group(2)) for m in pattern.finditer(text) if labels in (m.group(1) or ""))


@pytest.fixture(scope="module")
def jobs_service(real_node: RealNodeCluster, e2e_namespace: str) -> Iterator[str]:
    """The chart's operator, then an OcrService with jobs, an operator-run Redis and one worker: all Ready."""
    with installed_release(real_node, e2e_namespace, "ocr-jobs", helm_test_target=NAME):
        repo, tag = SERVER_IMAGE.rsplit(":", 1)
        spec = {
            "replicas": 1,
            "image": {"repository": repo, "tag": tag, "pullPolicy": "Never"},
            "resources": SMALL,
            "jobs": {
                "enabled": True,
                "redis": {"deploy": True, "image": REDIS_IMAGE, "resources": SMALL},
                "workers": {"replicas": 1, "concurrency": 1, "resources": SMALL},
            },
        }
        body = {"apiVersion": "ocr-crnn.io/v1alpha1", "kind": "OcrService", "metadata": {"name": NAME}, "spec": spec}
        t0 = time.monotonic()
        real_node.kubectl("apply", "-n", e2e_namespace, "-f", "-", input=json.dumps(body))
        for component in COMPONENTS:
            wait_for(
                lambda c=component: [p for p in _pods(real_node, e2e_namespace, c) if _ready(p)],
                420,
                f"the {component} pod Ready",
                interval=2,
            )
        print(f"OcrService {NAME} with jobs: server, Redis and worker Ready in {time.monotonic() - t0:.1f}s")
        yield NAME


def test_redis_and_worker_pods_run_under_restricted_psa(
    real_node: RealNodeCluster, e2e_namespace: str, jobs_service: str
) -> None:
    ns = kget(real_node, "namespace", e2e_namespace)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    (redis,) = _pods(real_node, e2e_namespace, "redis")
    (worker,) = _pods(real_node, e2e_namespace, "worker")
    assert redis["spec"]["containers"][0]["image"] == REDIS_IMAGE
    assert worker["spec"]["containers"][0]["image"] == SERVER_IMAGE
    for pod, uid in ((redis, "999"), (worker, "10001")):
        name = pod["metadata"]["name"]
        assert pod["spec"]["nodeName"] == "ocr-node"
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 0, f"{name} restarted"
        got = real_node.kubectl("exec", "-n", e2e_namespace, name, "--", "id", "-u").stdout.strip()
        assert got == uid, f"{name} runs as {got}, not {uid}"
    # The read-only root file system holds: Redis writes only its /data volume.
    touch = real_node.kubectl(
        "exec", "-n", e2e_namespace, redis["metadata"]["name"], "--", "touch", "/probe", check=False
    )
    assert touch.returncode != 0 and "Read-only file system" in touch.stderr, touch.stderr


def test_job_through_the_service_completes_with_the_right_text(
    real_node: RealNodeCluster, e2e_namespace: str, jobs_service: str, receipt: Receipt
) -> None:
    svc = kget(real_node, "service", jobs_service, "-n", e2e_namespace)
    url = f"http://{svc['spec']['clusterIP']}:{svc['spec']['ports'][0]['port']}"
    rsp = requests.post(
        f"{url}/api/v1/jobs",
        files=[("image", ("receipt.jpg", receipt.image, "image/jpeg")), ("image", ("line.png", receipt.line_crop))],
        timeout=60,
    )
    assert rsp.status_code == 202, rsp.text[:500]
    submitted = rsp.json()
    assert submitted["status"] == "queued" and submitted["status_url"].endswith(submitted["id"])

    def finished() -> dict[str, Any] | None:
        got = requests.get(f"{url}{submitted['status_url']}", timeout=30)
        assert got.status_code == 200, got.text[:300]
        body = got.json()
        return body if body["status"] not in ("queued", "running") else None

    t0 = time.monotonic()
    job = wait_for(finished, 300, f"job {submitted['id']} to finish", interval=2)
    print(f"job of 2 pages finished in {time.monotonic() - t0:.1f}s: {job['timings_ms']}")
    assert job["status"] == "succeeded", job
    assert job["progress"] == {"done": 2, "total": 2, "failed": 0}
    receipt_page, line_page = job["pages"]
    assert receipt_page["status"] == line_page["status"] == "succeeded"
    found = set(receipt_page["result"]["text"].split())
    recall = sum(w in found for w in receipt.words) / len(receipt.words)
    assert recall >= 0.6, f"only {recall:.0%} of the receipt's words read: {receipt_page['result']['text'][:400]!r}"
    # The receipt's first line, cropped: read alone the model may choose another letter case.
    line_words = set(line_page["result"]["text"].lower().split())
    assert line_words & {w.lower() for w in receipt.words}, line_page["result"]["text"]

    # The worker's Prometheus endpoint (pod IP, port 9100) counts both pages; the server's counts the job.
    (worker,) = _pods(real_node, e2e_namespace, "worker")
    metrics = requests.get(f"http://{worker['status']['podIP']}:{WORKER_METRICS_PORT}/metrics", timeout=30)
    assert metrics.status_code == 200
    assert _metric(metrics.text, "ocr_job_tasks_finished_total", 'outcome="succeeded"') >= 2, metrics.text[-2000:]
    assert _metric(metrics.text, "ocr_job_tasks_started_total") >= 2
    assert "ocr_jobs_queue_depth" in metrics.text  # read from Redis at scrape time: the worker reaches it
    server_metrics = requests.get(f"{url}/metrics", timeout=30).text
    assert _metric(server_metrics, "ocr_jobs_submitted_total") >= 1
    # Nothing restarted along the way (a crash-looping worker would still have run the pages, later).
    for component in COMPONENTS:
        for pod in _pods(real_node, e2e_namespace, component):
            assert pod["status"]["containerStatuses"][0]["restartCount"] == 0, pod["metadata"]["name"]


def test_model_change_with_jobs_arriving_loses_no_page(
    real_node: RealNodeCluster, e2e_namespace: str, jobs_service: str, receipt: Receipt
) -> None:
    """Server and worker pods roll to another model version while a client submits a job every half
    second: jobs pinned to the old version and to the new one all succeed, each read with its own."""
    svc = kget(real_node, "service", jobs_service, "-n", e2e_namespace)
    url = f"http://{svc['spec']['clusterIP']}:{svc['spec']['ports'][0]['port']}"
    before = kget(real_node, "ocrservice", jobs_service, "-n", e2e_namespace)["status"]["modelVersion"]
    after = "1.1.0" if before != "1.1.0" else "1.0.0"  # both ship in the server image
    ids: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def submit() -> None:
        while not stop.is_set():
            try:
                rsp = requests.post(
                    f"{url}/api/v1/jobs", files=[("image", ("line.png", receipt.line_crop))], timeout=30
                )
                if rsp.status_code == 202:
                    ids.append(rsp.json()["id"])
                else:
                    errors.append(f"{rsp.status_code} {rsp.text[:200]}")
            except requests.RequestException as err:
                errors.append(repr(err))
            stop.wait(0.5)

    client = threading.Thread(target=submit, daemon=True)
    client.start()
    try:
        wait_for(lambda: len(ids) >= 4, 60, "the first jobs")
        real_node.kubectl(
            "patch", "ocrservice", jobs_service, "-n", e2e_namespace, "--type=merge",
            "-p", json.dumps({"spec": {"model": {"name": "crnn-en", "version": after}}}),
        )  # fmt: skip

        def rolled() -> bool:
            obj = kget(real_node, "ocrservice", jobs_service, "-n", e2e_namespace)
            workers = _pods(real_node, e2e_namespace, "worker")
            return obj["status"].get("modelVersion") == after and len(workers) == 1 and _ready(workers[0])

        wait_for(rolled, 420, f"server and worker on {after}", interval=2)
        settled = len(ids)
        wait_for(lambda: len(ids) >= settled + 6, 60, "jobs after the roll-out")
    finally:
        stop.set()
        client.join(timeout=60)

    def ended(job_id: str) -> dict[str, Any] | None:
        body = requests.get(f"{url}/api/v1/jobs/{job_id}", timeout=30).json()
        return body if body["status"] not in ("queued", "running") else None

    jobs = [wait_for(lambda j=job_id: ended(j), 300, f"job {job_id} to end", interval=1) for job_id in ids]
    pinned = [j["model"]["version"] for j in jobs]
    (worker,) = _pods(real_node, e2e_namespace, "worker")
    metrics = requests.get(f"http://{worker['status']['podIP']}:{WORKER_METRICS_PORT}/metrics", timeout=30).text
    handed_back = _metric(metrics, "ocr_job_tasks_finished_total", 'outcome="handed_back"')
    on_demand = _metric(metrics, "ocr_job_models_loaded_on_demand_total")
    print(
        f"{len(jobs)} jobs across the roll-out {before} -> {after}: pinned {dict(Counter(pinned))}, "
        f"submission errors {len(errors)}; the new worker loaded {on_demand:.0f} model(s) on demand and "
        f"handed back {handed_back:.0f} page(s)"
    )
    assert errors == [], errors[:3]
    assert {before, after} <= set(pinned), pinned  # jobs on both sides of the roll-out
    failed = [j for j in jobs if j["status"] != "succeeded"]
    assert failed == [], failed[:2]
    for job in jobs:  # each read with exactly the model it was pinned to, never the other
        assert job["pages"][0]["result"]["model"] == job["model"], job
