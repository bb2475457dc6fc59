"""Batch jobs end to end: real gunicorn, real redis-server, real Celery worker processes, the shipped model.

Workers run one pool process each (concurrency 1) to stay lean on a shared 2-core machine.
"""

from __future__ import annotations

import io
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
import test_web_page
from jobs_support import (
    RedisServer,
    Worker,
    require_redis_server,
    start_worker,
    wait_for_job,
    wait_for_page_job,
)
from server_support import SERVER_CONFIG, RunningServer, SroiePage, make_app, start_server, stop_server

from ocr_server.jobs.store import job_key
from ocr_server.jobs.tasks import MAX_PAGE_ATTEMPTS

pytestmark = pytest.mark.slow

TIMEOUT = 60
browser = test_web_page.browser  # the headless Chromium fixture of the page tests
# Short enough that a page held by a SIGKILLed worker comes back within a test, longer than a page.
VISIBILITY_TIMEOUT = 12


def jobs_config(redis_url: str) -> dict:
    return {
        **SERVER_CONFIG,
        "jobs": {
            "enabled": True,
            "redisUrl": redis_url,
            "workerConcurrency": 1,
            "visibilityTimeoutSeconds": VISIBILITY_TIMEOUT,
            "taskTimeLimitSeconds": 10,
        },
    }


@pytest.fixture(scope="module")
def aof_redis(tmp_path_factory: pytest.TempPathFactory, require_model: None) -> Iterator[RedisServer]:
    require_redis_server()
    server = RedisServer(tmp_path_factory.mktemp("redis-aof"), persistent=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jobs_server(tmp_path_factory: pytest.TempPathFactory, aof_redis: RedisServer) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("gunicorn-jobs"), jobs_config(aof_redis.url), name="jobs-server")
    yield running
    stop_server(running)


@pytest.fixture()
def workers(tmp_path: Path, aof_redis: RedisServer) -> Iterator[list[Worker]]:
    """Workers a test starts (``start(name)``); all stopped at the end, and the queue emptied."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()
    aof_redis.client().flushall()


def start(started: list[Worker], tmp: Path, redis_url: str, name: str) -> Worker:
    worker = start_worker(tmp, jobs_config(redis_url), name=name)
    started.append(worker)
    return worker


def submit(base_url: str, pages: list[bytes], **kw) -> str:  # type: ignore[no-untyped-def]
    files = [("image", (f"page{i}.jpg", data)) for i, data in enumerate(pages)]
    response = requests.post(f"{base_url}/api/v1/jobs", files=files, timeout=TIMEOUT, **kw)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module")
def small_pages(sroie_pages: list[SroiePage]) -> list[bytes]:
    """Four small receipts (quick on a shared machine), distinct files."""
    chosen = sorted(sroie_pages[:20], key=lambda p: p.width * p.height)[:4]
    return [p.path.read_bytes() for p in chosen]


def in_flight(rds: redis.Redis, job_id: str) -> set[bytes]:
    """Pages a worker has started and not finished (attempted, no result yet)."""
    return set(rds.hkeys(job_key(job_id) + ":attempts")) - set(rds.hkeys(job_key(job_id) + ":results"))


def wait_in_flight(rds: redis.Redis, job_id: str, timeout: float = 60.0) -> set[bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pages = in_flight(rds, job_id)
        if pages and rds.hlen(job_key(job_id) + ":results") >= 1:
            return pages
        time.sleep(0.005)
    raise AssertionError("no page in flight")


def assert_every_page_once(job: dict, total: int) -> None:
    assert job["status"] == "succeeded", job
    assert job["progress"] == {"done": total, "total": total, "failed": 0}
    assert [p["index"] for p in job["pages"]] == list(range(total))
    assert all(p["status"] == "succeeded" and p["result"]["lines"] for p in job["pages"])


def test_job_results_equal_the_synchronous_endpoint(
    jobs_server: RunningServer, workers: list[Worker], tmp_path: Path, aof_redis: RedisServer, small_pages: list[bytes]
) -> None:
    worker = start(workers, tmp_path, aof_redis.url, "w1")
    job_id = submit(jobs_server.url, small_pages)
    job = wait_for_job(jobs_server.url, job_id)
    assert_every_page_once(job, len(small_pages))
    for page, data in zip(job["pages"], small_pages, strict=True):
        sync = requests.post(f"{jobs_server.url}/api/v1/ocr", files={"image": ("p.jpg", data)}, timeout=TIMEOUT)
        assert sync.status_code == 200
        expected = sync.json()
        for field in ("text", "lines", "image", "model"):
            assert page["result"][field] == expected[field], field
        assert page["attempts"] == 1
    assert job["timings_ms"]["total"] >= job["timings_ms"]["run"] > 0
    assert job["started_at"] and job["finished_at"] and job["expires_at"]
    metrics = requests.get(f"http://127.0.0.1:{worker.metrics_port}/metrics", timeout=10).text
    assert re.search(r'ocr_job_tasks_finished_total\{outcome="succeeded"\} 4\.0', metrics), metrics[-2000:]
    assert 'ocr_jobs_queue_depth{queue="ocr-pages"} 0.0' in metrics
    assert "ocr_job_task_duration_seconds_count 4.0" in metrics


def test_sigkilled_pool_process_page_is_requeued_and_done_once(
    jobs_server: RunningServer, workers: list[Worker], tmp_path: Path, aof_redis: RedisServer, small_pages: list[bytes]
) -> None:
    worker = start(workers, tmp_path, aof_redis.url, "w1")
    pages = small_pages * 2
    rds = aof_redis.client()
    job_id = submit(jobs_server.url, pages)
    victims: set[bytes] = set()
    for _ in range(3):  # a page may finish between seeing it in flight and the kill: then try again
        wait_in_flight(rds, job_id)
        for pid in worker.pool_pids():
            os.kill(pid, signal.SIGKILL)  # the OOM killer's way: the pool process dies mid-page
        victims = in_flight(rds, job_id)  # started, unfinished when the process died
        if victims:
            break
    assert victims, "never caught a page in flight"
    job = wait_for_job(jobs_server.url, job_id)
    assert_every_page_once(job, len(pages))
    retried = {p["index"] for p in job["pages"] if p["attempts"] >= 2}
    assert {int(v) for v in victims} <= retried, (victims, [p["attempts"] for p in job["pages"]])
    assert worker.process.poll() is None  # the worker replaced its pool process and went on


def test_sigkilled_worker_page_comes_back_after_the_visibility_timeout(
    jobs_server: RunningServer, workers: list[Worker], tmp_path: Path, aof_redis: RedisServer, small_pages: list[bytes]
) -> None:
    rds = aof_redis.client()
    job_id = submit(jobs_server.url, small_pages * 2)
    victims: set[bytes] = set()
    for attempt in range(3):  # a page may finish between seeing it in flight and the kill: then try again
        worker = start(workers, tmp_path, aof_redis.url, f"w{attempt}")
        wait_in_flight(rds, job_id)
        worker.kill()  # the whole pod gone: nobody left to re-queue the page it held
        victims = in_flight(rds, job_id)
        if victims:
            break
    assert victims, "never caught a page in flight"
    start(workers, tmp_path, aof_redis.url, "w-last")
    job = wait_for_job(jobs_server.url, job_id, timeout=180)
    assert_every_page_once(job, len(small_pages) * 2)
    assert all(job["pages"][int(v)]["attempts"] >= 2 for v in victims), job["pages"]


def test_cancel_a_running_job(
    jobs_server: RunningServer, workers: list[Worker], tmp_path: Path, aof_redis: RedisServer, small_pages: list[bytes]
) -> None:
    start(workers, tmp_path, aof_redis.url, "w1")
    pages = small_pages * 3
    job_id = submit(jobs_server.url, pages)
    wait_for_job(jobs_server.url, job_id, until=("running",))
    response = requests.delete(f"{jobs_server.url}/api/v1/jobs/{job_id}", timeout=TIMEOUT)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    done = response.json()["progress"]["done"]
    assert done < len(pages)
    rds = aof_redis.client()
    deadline = time.monotonic() + 60
    while rds.llen("ocr-pages") and time.monotonic() < deadline:  # the worker drains the rest as no-ops
        time.sleep(0.2)
    time.sleep(1.0)
    job = requests.get(f"{jobs_server.url}/api/v1/jobs/{job_id}", timeout=TIMEOUT).json()
    assert job["status"] == "cancelled" and job["progress"]["done"] == done
    assert sum(p["status"] == "cancelled" for p in job["pages"]) == len(pages) - done


def test_redis_restart_with_persistence_loses_nothing_and_workers_reconnect(
    jobs_server: RunningServer, workers: list[Worker], tmp_path: Path, aof_redis: RedisServer, small_pages: list[bytes]
) -> None:
    worker = start(workers, tmp_path, aof_redis.url, "w1")
    worker.stop()  # nobody consumes: the job waits in the queue across the restart
    job_id = submit(jobs_server.url, small_pages[:2])
    aof_redis.restart()
    assert requests.get(f"{jobs_server.url}/api/v1/jobs/{job_id}", timeout=TIMEOUT).json()["status"] == "queued"
    worker = start(workers, tmp_path, aof_redis.url, "w2")
    assert_every_page_once(wait_for_job(jobs_server.url, job_id), 2)
    aof_redis.restart()  # under a running worker: it reconnects by itself
    job_id = submit(jobs_server.url, small_pages[2:])
    assert_every_page_once(wait_for_job(jobs_server.url, job_id), 2)
    assert worker.process.poll() is None and len(worker.pool_pids()) == 1


def test_redis_restart_without_persistence_reports_lost_jobs_failed_and_keeps_working(
    tmp_path: Path, workers: list[Worker], small_pages: list[bytes]
) -> None:
    require_redis_server()
    volatile = RedisServer(tmp_path / "redis", persistent=False).start()
    try:
        client = make_app(jobs_config(volatile.url), load=False).test_client()
        job_id = client.post("/api/v1/jobs", data={"image": [(_io(small_pages[0]), "a.jpg")]}).json["id"]
        worker = start(workers, tmp_path, volatile.url, "w1")
        wait_pages = time.monotonic() + 60
        while client.get(f"/api/v1/jobs/{job_id}").json["status"] != "succeeded" and time.monotonic() < wait_pages:
            time.sleep(0.2)
        volatile.restart()  # every job and queued task is gone
        lost = client.get(f"/api/v1/jobs/{job_id}").json
        assert lost["status"] == "failed" and lost["error"]["code"] == "job_lost"
        job_id = client.post("/api/v1/jobs", data={"image": [(_io(small_pages[1]), "b.jpg")]}).json["id"]
        deadline = time.monotonic() + 90
        while (job := client.get(f"/api/v1/jobs/{job_id}").json)["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert_every_page_once(job, 1)
        assert worker.process.poll() is None  # reconnected, no crash loop
    finally:
        volatile.stop()


def _io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def test_a_page_that_keeps_killing_workers_is_failed_not_retried_forever(
    jobs_server: RunningServer, workers: list[Worker], tmp_path: Path, aof_redis: RedisServer, small_pages: list[bytes]
) -> None:
    job_id = submit(jobs_server.url, small_pages[:2])  # no worker yet: both pages wait
    rds = aof_redis.client()
    rds.hset(job_key(job_id) + ":attempts", "0", MAX_PAGE_ATTEMPTS)  # page 0 already killed three workers
    start(workers, tmp_path, aof_redis.url, "w1")
    job = wait_for_job(jobs_server.url, job_id)
    assert job["status"] == "failed" and job["progress"] == {"done": 2, "total": 2, "failed": 1}
    first, second = job["pages"]
    assert first["error"]["code"] == "worker_lost" and first["attempts"] == MAX_PAGE_ATTEMPTS + 1
    assert second["status"] == "succeeded" and second["attempts"] == 1


@pytest.mark.browser
def test_the_web_page_sends_several_files_as_a_job(
    browser,  # type: ignore[no-untyped-def]
    jobs_server: RunningServer,
    workers: list[Worker],
    tmp_path: Path,
    aof_redis: RedisServer,
    sroie_pages: list[SroiePage],
) -> None:
    start(workers, tmp_path, aof_redis.url, "w1")
    chosen = sorted(sroie_pages[:20], key=lambda p: p.width * p.height)[:2]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(jobs_server.url)
    page.wait_for_selector("#status.ready", timeout=30_000)
    page.set_input_files("#file", [str(p.path) for p in chosen])
    assert wait_for_page_job(page) == "succeeded, 2/2 pages"
    buttons = page.query_selector_all("#job-pages button")
    assert [b.inner_text().split(":")[0] for b in buttons] == [p.path.name for p in chosen]
    buttons[0].click()
    page.wait_for_selector("#result:not([hidden])")
    assert page.query_selector_all("#lines li") and page.query_selector_all("#boxes rect")
    # the downloads of /api/v1/ocr work for a job's page too: they re-read that page's file
    with page.expect_download(timeout=60_000) as info:
        page.click("#downloads button[data-format=text]")
    assert info.value.suggested_filename == chosen[0].path.stem + ".txt"
    # a PDF is read on its own (a job page is one image): the page says so and submits nothing
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    page.set_input_files("#file", [str(chosen[0].path), str(pdf)])
    page.wait_for_selector("#error:not([hidden])")
    assert "images only" in page.inner_text("#error")
    page.close()
