"""Batch jobs read with the model the client asks for: real gunicorn, real redis-server, real Celery
worker processes, two shipped bundles (the default crnn-en, 1.0.0 loaded beside it).

* a job submitted with ``?model=crnn-en:1.0.0`` is read with 1.0.0 on the worker: each page's result
  names it and equals ``/api/v1/ocr?model=crnn-en:1.0.0`` on the same file (and the default reads the same
  pages differently, so the model really changed the reading);
* a job record from before models were pinned (no ``model`` field) is read with the default;
* a worker whose config does not name the job's model (a roll-out between versions) loads the
  installed bundle on demand and reads with exactly it;
* a worker without the bundle installed at all hands its pages back to the queue, and a worker that
  loads the model reads them; when none does within ``jobs.modelWaitSeconds``, each page fails with
  ``model_unavailable``, naming it, and the worker goes on serving other jobs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from jobs_support import RedisServer, Worker, require_redis_server, start_worker, wait_for_job
from server_support import REPO_ROOT, SERVER_CONFIG, RunningServer, SroiePage, make_app, start_server, stop_server

from ocr_server.config import DEFAULT_MODEL_VERSION, parse_config
from ocr_server.jobs.celery_app import PAGE_TASK, make_celery
from ocr_server.jobs.store import JobStore, job_key

pytestmark = pytest.mark.slow

TIMEOUT = 60
DEFAULT = {"name": "crnn-en", "version": DEFAULT_MODEL_VERSION}
OLDER = {"name": "crnn-en", "version": "1.0.0"}
QUEUE = "ocr-pages"
LEAN_QUEUE = "ocr-pages-lean"  # the queue of the worker that loads the default model only


def jobs_config(
    redis_url: str,
    *,
    additional: bool = True,
    queue: str = QUEUE,
    model_wait: int = 600,
    models_dir: Path | None = None,
) -> dict:
    model: dict = {**DEFAULT, "additional": [OLDER] if additional else []}
    if models_dir is not None:
        model["modelsDir"] = str(models_dir)
    return {
        **SERVER_CONFIG,
        "model": model,
        "jobs": {
            "enabled": True,
            "redisUrl": redis_url,
            "workerConcurrency": 1,
            "queue": queue,
            "modelWaitSeconds": model_wait,
        },
    }


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory, require_model: None) -> Iterator[RedisServer]:
    require_redis_server()
    server = RedisServer(tmp_path_factory.mktemp("redis-models"), persistent=False).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("gunicorn-models"), jobs_config(redis_server.url), name="server")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[Worker]:
    """A worker configured like the server: both models."""
    started = start_worker(tmp_path_factory.mktemp("worker-models"), jobs_config(redis_server.url), name="both")
    yield started
    started.kill()


@pytest.fixture(scope="module")
def pages(sroie_pages: list[SroiePage]) -> list[bytes]:
    """Three small receipts (quick on a shared machine), distinct files."""
    chosen = sorted(sroie_pages[:20], key=lambda p: p.width * p.height)[:3]
    return [p.path.read_bytes() for p in chosen]


def submit(base_url: str, pages: list[bytes], query: str = "") -> str:
    files = [("image", (f"page{i}.jpg", data)) for i, data in enumerate(pages)]
    response = requests.post(f"{base_url}/api/v1/jobs{query}", files=files, timeout=TIMEOUT)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def read_now(base_url: str, data: bytes, query: str = "") -> dict:
    """The synchronous endpoint's reading of one file."""
    response = requests.post(f"{base_url}/api/v1/ocr{query}", files={"image": ("p.jpg", data)}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_job_reads_with_the_model_it_asked_for(server: RunningServer, worker: Worker, pages: list[bytes]) -> None:
    older_id = submit(server.url, pages, "?model=crnn-en:1.0.0")
    default_id = submit(server.url, pages)
    older, default = wait_for_job(server.url, older_id), wait_for_job(server.url, default_id)
    assert older["status"] == default["status"] == "succeeded", (older, default)
    assert older["model"] == OLDER and default["model"] == DEFAULT  # pinned at submission, shown by GET
    for job, query, model in ((older, "?model=crnn-en:1.0.0", OLDER), (default, "", DEFAULT)):
        for page, data in zip(job["pages"], pages, strict=True):
            assert page["result"]["model"] == model  # the model actually used on the worker
            expected = read_now(server.url, data, query)
            for field in ("text", "lines", "model"):
                assert page["result"][field] == expected[field], (field, page["index"], model)
    # and the two models do read these pages differently: the parameter changed the reading
    assert [p["result"]["text"] for p in older["pages"]] != [p["result"]["text"] for p in default["pages"]]


def test_a_record_from_before_models_were_pinned_reads_with_the_default(
    server: RunningServer, worker: Worker, redis_server: RedisServer, pages: list[bytes]
) -> None:
    """A job stored and queued as the API did before this change: no ``model`` in its record."""
    store = JobStore(redis_server.client(), 3600)
    job_id, created = store.create(pages[:1])
    assert created and not redis_server.client().hexists(job_key(job_id), "model")
    celery = make_celery(parse_config(jobs_config(redis_server.url)))
    celery.send_task(PAGE_TASK, args=[job_id, 0], queue=QUEUE)
    store.mark_queued(job_id)
    job = wait_for_job(server.url, job_id)
    assert job["status"] == "succeeded", job
    assert job["model"] is None  # nothing was pinned
    assert job["pages"][0]["result"]["model"] == DEFAULT
    assert job["pages"][0]["result"]["text"] == read_now(server.url, pages[0])["text"]


def default_only(tmp_path: Path) -> Path:
    """A models folder with the default bundle alone (a custom image without the older one)."""
    folder = tmp_path / "models-default-only"
    folder.mkdir()
    name = f"{DEFAULT['name']}-{DEFAULT['version']}"
    (folder / name).symlink_to(REPO_ROOT / "models" / name)
    return folder


def test_a_worker_not_configured_for_the_jobs_model_loads_the_installed_bundle(
    tmp_path: Path, redis_server: RedisServer, server: RunningServer, pages: list[bytes]
) -> None:
    """A roll-out from 1.0.0 to the default: the new worker (config: the default only) takes a page
    still queued for 1.0.0.  The bundle is installed (the image ships every version), so it loads it, checks its
    golden set, and reads with exactly 1.0.0: the same text as the synchronous endpoint with 1.0.0."""
    queue = "ocr-pages-on-demand"
    new = start_worker(tmp_path, jobs_config(redis_server.url, additional=False, queue=queue), name="new")
    try:
        api = make_app(jobs_config(redis_server.url, queue=queue), load=False).test_client()
        form = {"image": [(io.BytesIO(b), f"p{i}.jpg") for i, b in enumerate(pages[:2])]}
        response = api.post("/api/v1/jobs?model=crnn-en:1.0.0", data=form, content_type="multipart/form-data")
        assert response.status_code == 202, response.json
        job = wait_for_api(api, response.json["id"])
        assert job["status"] == "succeeded", job
        for page, blob in zip(job["pages"], pages[:2], strict=True):
            assert page["result"]["model"] == OLDER and page["attempts"] == 1
            assert page["result"]["text"] == read_now(server.url, blob, "?model=crnn-en:1.0.0")["text"]
        metrics = requests.get(f"http://127.0.0.1:{new.metrics_port}/metrics", timeout=10).text
        loaded = r'ocr_job_models_loaded_on_demand_total\{model="crnn-en:1.0.0"\} 1\.0'
        assert re.search(loaded, metrics), metrics[-2000:]  # once for both pages (one pool process)
        assert "Traceback" not in new.logs()
    finally:
        new.kill()


def test_a_worker_without_the_jobs_model_hands_the_pages_to_one_with_it(
    tmp_path: Path, redis_server: RedisServer, pages: list[bytes]
) -> None:
    """A roll-out that adds a model: the old worker (default only) takes the pages of a job pinned to
    the new one first, and (a custom image) does not have that bundle installed either.  It must
    neither read them with its default nor fail them: they go back to the queue, unread, and the new
    worker (both models), once up, reads them with the pinned model."""
    queue = "ocr-pages-rollout"
    lean = jobs_config(redis_server.url, additional=False, queue=queue, models_dir=default_only(tmp_path))
    old = start_worker(tmp_path / "old", lean, name="old")
    new: Worker | None = None
    try:
        api = make_app(jobs_config(redis_server.url, queue=queue), load=False).test_client()
        form = {"image": [(io.BytesIO(b), f"p{i}.jpg") for i, b in enumerate(pages[:2])]}
        response = api.post("/api/v1/jobs?model=crnn-en:1.0.0", data=form, content_type="multipart/form-data")
        assert response.status_code == 202, response.json
        job_id = response.json["id"]
        metrics_url = f"http://127.0.0.1:{old.metrics_port}/metrics"
        wait_until(lambda: handed_back(metrics_url) >= 2, 60)  # the old worker offered both pages back
        waiting = api.get(f"/api/v1/jobs/{job_id}").json
        assert waiting["status"] in ("queued", "running") and waiting["progress"]["done"] == 0, waiting
        attempts = redis_server.client().hgetall(job_key(job_id) + ":attempts")
        assert all(int(n) == 0 for n in attempts.values()), attempts  # handed back: no attempt counted
        new = start_worker(tmp_path / "new", jobs_config(redis_server.url, queue=queue), name="new")
        job = wait_for_api(api, job_id, timeout=180)
        assert job["status"] == "succeeded", job
        for page in job["pages"]:
            assert page["result"]["model"] == OLDER and page["attempts"] == 1  # hand-backs are no attempt
        assert "Traceback" not in old.logs()
    finally:
        old.kill()
        if new is not None:
            new.kill()


def handed_back(metrics_url: str) -> float:
    text = requests.get(metrics_url, timeout=10).text
    found = re.search(r'ocr_job_tasks_finished_total\{outcome="handed_back"\} ([0-9.]+)', text)
    return float(found.group(1)) if found else 0.0


def wait_until(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_worker_without_the_jobs_model_fails_its_pages_past_the_wait_and_keeps_serving(
    tmp_path: Path, redis_server: RedisServer, pages: list[bytes]
) -> None:
    """Workers configured unlike the API server (this one loads the default only) must not read a
    job pinned to another model with the default: when no worker loading it comes within
    ``jobs.modelWaitSeconds`` (here 3 s), each page fails with ``model_unavailable``."""
    config = jobs_config(
        redis_server.url, additional=False, queue=LEAN_QUEUE, model_wait=3, models_dir=default_only(tmp_path)
    )
    lean = start_worker(tmp_path, config, name="lean")
    try:
        # the API side of that deployment: its config loads both models (the submission path needs no
        # model loaded, so Flask's test client on the same Redis and queue stands in for the server)
        api = make_app(jobs_config(redis_server.url, queue=LEAN_QUEUE, model_wait=3), load=False).test_client()

        def run(query: str, blobs: list[bytes]) -> dict:
            form = {"image": [(io.BytesIO(b), f"p{i}.jpg") for i, b in enumerate(blobs)]}
            response = api.post(f"/api/v1/jobs{query}", data=form, content_type="multipart/form-data")
            assert response.status_code == 202, response.json
            return wait_for_api(api, response.json["id"])

        job = run("?model=crnn-en:1.0.0", pages[:2])
        assert job["status"] == "failed" and job["progress"] == {"done": 2, "total": 2, "failed": 2}
        assert job["model"] == OLDER
        for page in job["pages"]:
            assert page["status"] == "failed" and "result" not in page and page["attempts"] == 1
            assert page["error"]["code"] == "model_unavailable"
            assert "crnn-en:1.0.0" in page["error"]["message"]  # the model the job asked for
            assert f"it loads: crnn-en:{DEFAULT_MODEL_VERSION}" in page["error"]["message"]  # and what this worker has
            assert "nor is it installed here" in page["error"]["message"]
            assert re.search(r"waited [3-9] s", page["error"]["message"]), page["error"]  # handed back first
        # no crash: the same pool process reads the next job, pinned to the model it does have
        pids = lean.pool_pids()
        served = run("", pages[:1])
        assert served["status"] == "succeeded" and served["pages"][0]["result"]["model"] == DEFAULT
        assert lean.process.poll() is None and lean.pool_pids() == pids
        metrics = requests.get(f"http://127.0.0.1:{lean.metrics_port}/metrics", timeout=10).text
        assert re.search(r'ocr_job_tasks_finished_total\{outcome="failed"\} 2\.0', metrics), metrics[-2000:]
        assert "Traceback" not in lean.logs()
    finally:
        lean.kill()


def wait_for_api(client, job_id: str, timeout: float = 120.0) -> dict:  # type: ignore[no-untyped-def]
    """``wait_for_job`` through Flask's test client."""
    import time

    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/jobs/{job_id}").json
        if body.get("status") in ("succeeded", "failed", "cancelled"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not finished after {timeout} s: {body}")
