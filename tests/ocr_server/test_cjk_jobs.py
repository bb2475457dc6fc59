"""Chinese through batch jobs: real redis-server, a real Celery worker and gunicorn, the cipher bundle
(``cjk_support.py``) as the default model.  Job results carry the Chinese text as the synchronous
endpoint does, and a job asking for a model the server does not load is refused rather than read with
the wrong one.  On the web page (headless Chromium), a batch job read with the model picked there
shows that model's Chinese text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import test_web_page
from cjk_support import CIPHER_NAME, CIPHER_VERSION, CipherModels, render_lines
from jobs_support import (
    RedisServer,
    Worker,
    require_redis_server,
    start_worker,
    wait_for_job,
    wait_for_page_job,
)
from PIL import Image
from server_support import SERVER_CONFIG, RunningServer, encode, start_server, stop_server

pytestmark = pytest.mark.slow

LINES = ["INVOICE NO 4471", "TOTAL 12.50"]
browser = test_web_page.browser  # the headless Chromium fixture of the page tests


def _config(cipher: CipherModels, redis_url: str) -> dict:
    return {
        **SERVER_CONFIG,
        "model": {"name": CIPHER_NAME, "version": CIPHER_VERSION, "modelsDir": str(cipher.models_dir)},
        "jobs": {"enabled": True, "redisUrl": redis_url, "workerConcurrency": 1},
    }


@pytest.fixture(scope="module")
def zh_jobs(
    tmp_path_factory: pytest.TempPathFactory, cipher_models: CipherModels
) -> Iterator[tuple[RunningServer, Worker]]:
    require_redis_server()
    redis_server = RedisServer(tmp_path_factory.mktemp("redis-zh"), persistent=False).start()
    tmp: Path = tmp_path_factory.mktemp("zh-jobs")
    config = _config(cipher_models, redis_server.url)
    server = start_server(tmp, config, name="zh-jobs-server")
    worker = start_worker(tmp, config, name="zh-worker")
    yield server, worker
    worker.kill()
    stop_server(server)
    redis_server.stop()


def test_job_results_carry_the_chinese_text(zh_jobs: tuple[RunningServer, Worker], cipher_models: CipherModels) -> None:
    server, _ = zh_jobs
    page = encode(Image.fromarray(render_lines(LINES, "latin", size=34, line_gap=1.2, min_height=400).pixels), "PNG")
    submitted = requests.post(f"{server.url}/api/v1/jobs", files={"image": ("p.png", page)}, timeout=60)
    assert submitted.status_code == 202, submitted.text
    job = wait_for_job(server.url, submitted.json()["id"])
    assert job["status"] == "succeeded", job
    result = job["pages"][0]["result"]
    expected = [cipher_models.encipher(t) for t in LINES]
    assert [ln["text"] for ln in result["lines"]] == expected
    assert result["model"] == {"name": CIPHER_NAME, "version": CIPHER_VERSION}
    raw = requests.get(f"{server.url}/api/v1/jobs/{job['id']}", timeout=10)
    assert raw.headers["Content-Type"] == "application/json; charset=utf-8"
    assert expected[1].encode("utf-8") in raw.content  # the characters themselves, not \\u escapes


def test_a_job_for_a_model_the_server_does_not_load_is_refused(zh_jobs: tuple[RunningServer, Worker]) -> None:
    server, _ = zh_jobs
    page = encode(Image.new("L", (64, 64), 255), "PNG")
    refused = requests.post(f"{server.url}/api/v1/jobs?model=crnn-en", files={"image": ("p.png", page)}, timeout=60)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "unknown_model"
    message = refused.json()["error"]["message"]
    assert "model crnn-en is not loaded by this server (loaded: crnn-zh:0.0.0-test)" in message
    same = requests.post(f"{server.url}/api/v1/jobs?model=crnn-zh", files={"image": ("p.png", page)}, timeout=60)
    assert same.status_code == 202, same.text
    job = requests.get(f"{server.url}/api/v1/jobs/{same.json()['id']}", timeout=10).json()
    assert job["model"] == {"name": CIPHER_NAME, "version": CIPHER_VERSION}


@pytest.mark.browser
def test_the_web_page_reads_a_batch_job_with_the_model_picked_there(  # type: ignore[no-untyped-def]
    browser, tmp_path_factory: pytest.TempPathFactory, cipher_models: CipherModels, tmp_path: Path
) -> None:
    """English is the default here and the cipher crnn-zh is loaded beside it: picking crnn-zh on the
    page and dropping two files sends one job pinned to it; each page shown is its Chinese reading,
    tagged with its language."""
    require_redis_server()
    redis_server = RedisServer(tmp_path_factory.mktemp("redis-zh-pick"), persistent=False).start()
    folder = tmp_path_factory.mktemp("zh-pick-jobs")
    config = _config(cipher_models, redis_server.url)
    config["model"] = {
        "name": "crnn-en",
        "version": "1.2.0",
        "modelsDir": str(cipher_models.models_dir),
        "additional": [{"name": CIPHER_NAME, "version": CIPHER_VERSION}],
    }
    server = start_server(folder, config, name="zh-pick-server")
    worker = start_worker(folder, config, name="zh-pick-worker")
    try:
        files = []
        for i, lines in enumerate([LINES, LINES[::-1]]):
            path = tmp_path / f"page-{i}.png"
            Image.fromarray(render_lines(lines, "latin", size=34, line_gap=1.2, min_height=400).pixels).save(path)
            files.append(str(path))
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(server.url + "/")
        page.wait_for_selector("#status.ready", timeout=30_000)
        page.select_option("#model-choice", f"{CIPHER_NAME}:{CIPHER_VERSION}")
        page.set_input_files("#file", files)
        assert wait_for_page_job(page) == "succeeded, 2/2 pages"
        buttons = page.query_selector_all("#job-pages button")
        buttons[1].click()
        page.wait_for_selector("#result:not([hidden])")
        texts = page.locator("#lines li .text")
        assert texts.all_inner_texts() == [cipher_models.encipher(t) for t in LINES[::-1]]
        assert texts.first.get_attribute("lang") == "zh-Hans"
        page.close()
    finally:
        worker.kill()
        stop_server(server)
        redis_server.stop()
