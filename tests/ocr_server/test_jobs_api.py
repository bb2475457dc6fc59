"""``/api/v1/jobs`` through Flask's test client, on a real redis-server, with no worker consuming.

What is checked here is what happens before and around the queue: every submission check, that a
refused submission stores and queues nothing, idempotency, expiry (real Redis TTLs), a Redis
restart without persistence, cancel, Redis down.  The workers are in ``test_jobs_workers.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from jobs_support import RedisServer, require_redis_server
from PIL import Image
from server_support import encode, make_app, raw_png, text_page

from ocr_server.config import DEFAULT_MODEL_VERSION
from ocr_server.jobs.api import EXTENSION_KEY
from ocr_server.jobs.store import job_key

QUEUE = "ocr-pages"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require_redis_server()
    server = RedisServer(tmp_path_factory.mktemp("redis"), persistent=False).start()
    yield server
    server.stop()


@pytest.fixture()
def rds(redis_server: RedisServer) -> Iterator[redis.Redis]:
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    client = redis_server.client()
    client.flushall()
    yield client


def jobs_app(redis_server: RedisServer, **jobs: object):  # type: ignore[no-untyped-def]
    return make_app(
        {
            "limits": {"maxUploadBytes": 200_000, "maxPixels": 4_000_000},
            "jobs": {"enabled": True, "redisUrl": redis_server.url, "maxFilesPerJob": 3, **jobs},
        }
    )


@pytest.fixture()
def client(redis_server: RedisServer, rds: redis.Redis):  # type: ignore[no-untyped-def]
    return jobs_app(redis_server).test_client()


@pytest.fixture(scope="module")
def pages() -> list[bytes]:
    return [encode(Image.fromarray(text_page(lines=n)), "PNG") for n in (2, 3, 4)]


def files(*blobs: bytes) -> dict:
    return {"image": [(_stream(b), f"p{i}.png") for i, b in enumerate(blobs)]}


def _stream(data: bytes):  # type: ignore[no-untyped-def]
    import io

    return io.BytesIO(data)


def job_keys(rds: redis.Redis) -> list[bytes]:
    return list(rds.scan_iter("ocr:job:*"))


def test_submit_answers_202_with_location_and_queues_one_task_per_page(client, rds, pages) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/jobs", data=files(*pages[:2]), content_type="multipart/form-data")
    assert response.status_code == 202, response.json
    body = response.json
    assert set(body) == {"id", "status", "status_url"} and body["status"] == "queued"
    assert response.headers["Location"] == body["status_url"] == f"/api/v1/jobs/{body['id']}"
    assert rds.llen(QUEUE) == 2
    job = client.get(body["status_url"]).json
    assert job["status"] == "queued" and job["progress"] == {"done": 0, "total": 2, "failed": 0}
    assert job["created_at"].endswith("Z") and job["started_at"] is None and "pages" not in job
    assert rds.ttl(job_key(body["id"])) > 0 and rds.ttl(job_key(body["id"]) + ":data") > 0


def test_raw_body_is_a_one_page_job(client, rds, pages) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/jobs", data=pages[0], content_type="image/png")
    assert response.status_code == 202 and rds.llen(QUEUE) == 1


@pytest.mark.parametrize(
    ("bad", "status", "code"),
    [
        (b"just some text, not an image", 415, "unsupported_media_type"),
        (b"", 400, "empty_upload"),
        (raw_png(5000, 5000, rows=1), 413, "too_many_pixels"),  # checked from the header, before queueing
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, 422, "undecodable_image"),
        (b"\xff\xd8\xff" + b"\0" * 300_000, 413, "payload_too_large"),  # one file above maxUploadBytes
    ],
)
def test_one_bad_file_rejects_the_whole_submission_and_stores_nothing(client, rds, pages, bad, status, code) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/jobs", data=files(pages[0], bad, pages[1]), content_type="multipart/form-data")
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert "p1.png" in response.json["error"]["message"] or code in ("payload_too_large", "empty_upload")
    assert job_keys(rds) == [] and rds.llen(QUEUE) == 0


def test_job_limits_files_and_bytes(redis_server, rds, pages) -> None:  # type: ignore[no-untyped-def]
    client = jobs_app(redis_server).test_client()
    response = client.post("/api/v1/jobs", data=files(*pages, pages[0]), content_type="multipart/form-data")
    assert response.status_code == 413 and response.json["error"]["code"] == "too_many_images"
    small = jobs_app(redis_server, maxBytesPerJob=sum(map(len, pages[:2])) - 1).test_client()
    response = small.post("/api/v1/jobs", data=files(*pages[:2]), content_type="multipart/form-data")
    assert response.status_code == 413 and response.json["error"]["code"] == "job_too_large"
    response = small.post("/api/v1/jobs", data=files(*pages[:3]), content_type="multipart/form-data")
    assert response.status_code == 413 and response.json["error"]["code"] == "job_too_large"
    response = client.post("/api/v1/jobs", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and response.json["error"]["code"] == "missing_image"
    assert job_keys(rds) == [] and rds.llen(QUEUE) == 0


def test_idempotency_key_returns_the_same_job_and_queues_once(client, rds, pages) -> None:  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": "batch-2026-11-30"}
    first = client.post("/api/v1/jobs", data=files(*pages[:2]), headers=headers, content_type="multipart/form-data")
    again = client.post("/api/v1/jobs", data=files(*pages[:2]), headers=headers, content_type="multipart/form-data")
    assert first.status_code == again.status_code == 202
    assert first.json["id"] == again.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert rds.llen(QUEUE) == 2 and len([k for k in job_keys(rds) if k.endswith(b"}")]) == 1
    other = client.post("/api/v1/jobs", data=files(pages[2]), headers=headers, content_type="multipart/form-data")
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    fresh = client.post("/api/v1/jobs", data=files(*pages[:2]), content_type="multipart/form-data")
    assert fresh.json["id"] != first.json["id"] and rds.llen(QUEUE) == 4


def test_unknown_and_malformed_ids_are_404(client) -> None:  # type: ignore[no-untyped-def]
    for job_id in ("nope", "0" * 32, "Z" * 32, "%00"):
        response = client.get(f"/api/v1/jobs/{job_id}")
        assert response.status_code == 404 and response.json["error"]["code"] == "job_not_found", job_id
    assert client.get("/api/v1/jobs/../../etc/passwd").status_code == 404
    assert client.delete(f"/api/v1/jobs/{'0' * 32}").status_code == 404


def test_results_expire_after_the_ttl_and_then_answer_410(redis_server, rds, pages) -> None:  # type: ignore[no-untyped-def]
    app = jobs_app(redis_server)
    app.extensions[EXTENSION_KEY].store.ttl = 1  # the config's minimum is 60 s; the TTL itself is Redis's
    client = app.test_client()
    job_id = client.post("/api/v1/jobs", data=files(pages[0]), content_type="multipart/form-data").json["id"]
    assert client.get(f"/api/v1/jobs/{job_id}").status_code == 200
    time.sleep(2.2)
    assert job_keys(rds) == []  # Redis dropped the record and the bytes
    response = client.get(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 410 and response.json["error"]["code"] == "job_expired"


def test_cancel_a_queued_job(client, rds, pages) -> None:  # type: ignore[no-untyped-def]
    job_id = client.post("/api/v1/jobs", data=files(*pages), content_type="multipart/form-data").json["id"]
    response = client.delete(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert [p["status"] for p in response.json["pages"]] == ["cancelled"] * 3
    assert not rds.exists(job_key(job_id) + ":data")  # the uploaded bytes are dropped at once
    assert client.get(f"/api/v1/jobs/{job_id}").json["status"] == "cancelled"
    again = client.delete(f"/api/v1/jobs/{job_id}")
    assert again.status_code == 409 and again.json["error"]["code"] == "job_finished"


def test_per_client_job_limit(redis_server, rds, pages) -> None:  # type: ignore[no-untyped-def]
    client = jobs_app(redis_server, maxJobsPerClient=2).test_client()
    for _ in range(2):
        assert client.post("/api/v1/jobs", data=files(pages[0]), content_type="multipart/form-data").status_code == 202
    response = client.post("/api/v1/jobs", data=files(pages[0]), content_type="multipart/form-data")
    assert response.status_code == 429 and response.json["error"]["code"] == "too_many_jobs"


def test_redis_restart_without_persistence_reports_the_job_failed_not_queued(
    client, redis_server, pages, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    job_id = client.post("/api/v1/jobs", data=files(pages[0]), content_type="multipart/form-data").json["id"]
    redis_server.restart()  # no AOF, no snapshot: the job and its queued task are gone
    response = client.get(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 200
    assert response.json["status"] == "failed" and response.json["error"]["code"] == "job_lost"
    # and the store keeps working for new jobs, under a new epoch
    new_id = client.post("/api/v1/jobs", data=files(pages[0]), content_type="multipart/form-data").json["id"]
    assert new_id[:8] != job_id[:8] and client.get(f"/api/v1/jobs/{new_id}").json["status"] == "queued"


def test_redis_down_is_503_with_retry_after(client, redis_server, pages) -> None:  # type: ignore[no-untyped-def]
    redis_server.stop()
    try:
        response = client.post("/api/v1/jobs", data=files(pages[0]), content_type="multipart/form-data")
        assert response.status_code == 503 and response.json["error"]["code"] == "jobs_unavailable"
        assert response.headers["Retry-After"] == "5"
        response = client.get(f"/api/v1/jobs/{'0' * 32}")
        assert response.status_code == 503 and "Traceback" not in response.get_data(as_text=True)
        assert client.get("/health").status_code == 200  # the synchronous side does not care
    finally:
        redis_server.start()


def test_jobs_disabled_is_404() -> None:
    response = make_app().test_client().post("/api/v1/jobs", data=b"x", content_type="image/png")
    assert response.status_code == 404 and response.json["error"]["code"] == "jobs_disabled"


def test_job_error_codes_are_unique_among_all_error_codes() -> None:
    from ocr_server.errors import ALL_ERRORS
    from ocr_server.jobs.errors import JOB_ERRORS

    codes = [cls.code for cls in (*ALL_ERRORS, *JOB_ERRORS)]
    assert len(codes) == len(set(codes))
    assert all(400 <= cls.status < 600 for cls in JOB_ERRORS)


def test_redis_password_comes_from_the_environment_not_the_config() -> None:
    from ocr_server.jobs.store import redis_url_with_password

    assert redis_url_with_password("redis://r:6379/0", None) == "redis://r:6379/0"
    assert redis_url_with_password("rediss://r:6380/2", "p@ss:w/rd") == "rediss://:p%40ss%3Aw%2Frd@r:6380/2"
    assert redis_url_with_password("redis://app@r:6379/0", "pw") == "redis://app:pw@r:6379/0"


def run_worker_cli(tmp_path: Path, config_text: str):  # type: ignore[no-untyped-def]
    """``python -m ocr_server.jobs.worker`` on a config file holding ``config_text``; its CompletedProcess."""
    import subprocess
    import sys

    from server_support import REPO_ROOT, server_env

    config = tmp_path / "config.yaml"
    config.write_text(config_text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "ocr_server.jobs.worker"],
        cwd=REPO_ROOT,
        env=server_env(config),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_worker_refuses_to_start_without_jobs_enabled(tmp_path: Path) -> None:
    out = run_worker_cli(tmp_path, "jobs: {enabled: false}\n")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "ocr-worker: refusing to start: jobs.enabled is false in the config: there is nothing for a worker to do"
    )


def test_a_job_whose_server_died_before_queueing_is_reported_failed(redis_server, rds, pages) -> None:  # type: ignore[no-untyped-def]
    from ocr_server.jobs.store import SUBMIT_GRACE_SECONDS, JobStore

    store = JobStore(redis_server.client(), 3600)
    job_id, created = store.create([pages[0]])  # stored, never queued (the request died here)
    assert created and store.get(job_id)["status"] == "queued"
    later = time.time() + SUBMIT_GRACE_SECONDS + 1
    store.clock = lambda: later
    job = store.get(job_id)
    assert job["status"] == "failed" and job["error"]["code"] == "submission_interrupted"
    assert job["pages"] == [{"index": 0, "status": "cancelled", "attempts": 0}]
    # one that went through the API is not affected, however old
    client = jobs_app(redis_server).test_client()
    queued = client.post("/api/v1/jobs", data=files(pages[0]), content_type="multipart/form-data").json["id"]
    assert store.get(queued)["status"] == "queued"


def _multipage_tiff() -> bytes:
    import io

    frames = [Image.fromarray(text_page(lines=n)) for n in (2, 3)]
    out = io.BytesIO()  # compressed: within the test app's maxUploadBytes
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return out.getvalue()


@pytest.mark.parametrize(
    "document",
    [b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", _multipage_tiff()],
    ids=["pdf", "multipage-tiff"],
)
def test_documents_are_not_job_pages(client, rds, pages, document) -> None:  # type: ignore[no-untyped-def]
    """A job page is one image: PDFs and multi-page TIFFs go to /api/v1/ocr, which reads every page."""
    response = client.post("/api/v1/jobs", data=files(pages[0], document), content_type="multipart/form-data")
    assert response.status_code == 415 and response.json["error"]["code"] == "unsupported_media_type"
    assert "p1.png" in response.json["error"]["message"]
    assert job_keys(rds) == [] and rds.llen(QUEUE) == 0


def test_file_checks_run_on_the_offloader(redis_server, rds, pages) -> None:  # type: ignore[no-untyped-def]
    """Header parsing and the fingerprint go through the app's offloader (native threads under
    gevent, see ocr_server/offload.py), as /api/v1/ocr's do, not on the event loop."""
    from ocr_server.api.state import EXTENSION_KEY as APP_KEY

    app = jobs_app(redis_server)
    offloader = app.extensions[APP_KEY].offloader
    calls: list[object] = []
    real_run = offloader.run

    def spy(fn, deadline, on_done):  # type: ignore[no-untyped-def]
        calls.append(fn)
        return real_run(fn, deadline, on_done)

    offloader.run = spy
    client = app.test_client()
    headers = {"Idempotency-Key": "offloaded"}
    response = client.post("/api/v1/jobs", data=files(*pages[:2]), headers=headers, content_type="multipart/form-data")
    assert response.status_code == 202 and len(calls) == 1
    again = client.post("/api/v1/jobs", data=files(*pages[:2]), headers=headers, content_type="multipart/form-data")
    assert again.json["id"] == response.json["id"] and len(calls) == 2  # the same fingerprint, computed off the hub


def test_info_tells_the_page_whether_jobs_are_enabled(redis_server) -> None:  # type: ignore[no-untyped-def]
    info = jobs_app(redis_server).test_client().get("/api/v1/info").json
    assert info["jobs_enabled"] is True and "config" not in info  # without server.exposeConfig
    assert make_app().test_client().get("/api/v1/info").json["jobs_enabled"] is False


def test_the_upload_budget_holds_a_whole_job() -> None:
    """With jobs enabled, the worker's buffered-body budget takes at least one largest job (else
    such a job would be shed with 429 every time)."""
    from ocr_server.app import upload_budget_bytes
    from ocr_server.config import parse_config
    from ocr_server.jobs.api import max_job_body_bytes

    plain = parse_config({})
    jobs = parse_config({"jobs": {"enabled": True, "maxBytesPerJob": 256 * 1024 * 1024}})
    assert jobs.jobs is not None
    assert upload_budget_bytes(jobs) > max_job_body_bytes(jobs.jobs) > upload_budget_bytes(plain)
    assert upload_budget_bytes(parse_config({"jobs": {"enabled": False, "maxBytesPerJob": 256 * 1024 * 1024}})) == (
        upload_budget_bytes(plain)
    )


def two_model_client(redis_server: RedisServer):  # type: ignore[no-untyped-def]
    """A jobs server whose config loads the default crnn-en and 1.0.0 (the tiny recognizer
    stands in for both here: what is checked is the resolution and the record, not the reading)."""
    return make_app(
        {
            "model": {"additional": [{"name": "crnn-en", "version": "1.0.0"}]},
            "limits": {"maxUploadBytes": 200_000},
            "jobs": {"enabled": True, "redisUrl": redis_server.url, "maxFilesPerJob": 3},
        }
    ).test_client()


def test_a_job_is_pinned_to_the_exact_model_it_asked_for(redis_server, rds, pages) -> None:  # type: ignore[no-untyped-def]
    client = two_model_client(redis_server)
    pinned = {}
    default = DEFAULT_MODEL_VERSION
    for query, expected in [("", default), ("?model=crnn-en", default), ("?model=crnn-en:1.0.0", "1.0.0")]:
        response = client.post(f"/api/v1/jobs{query}", data=files(pages[0]), content_type="multipart/form-data")
        assert response.status_code == 202, response.json
        job_id = response.json["id"]
        assert client.get(f"/api/v1/jobs/{job_id}").json["model"] == {"name": "crnn-en", "version": expected}
        pinned[query] = rds.hget(job_key(job_id), "model")
    assert pinned == {
        "": f"crnn-en:{DEFAULT_MODEL_VERSION}".encode(),
        "?model=crnn-en": f"crnn-en:{DEFAULT_MODEL_VERSION}".encode(),
        "?model=crnn-en:1.0.0": b"crnn-en:1.0.0",
    }
    assert rds.llen(QUEUE) == 3


@pytest.mark.parametrize(
    ("model", "says"),
    [
        (
            "crnn-en:1.1.0",
            f"crnn-en:1.1.0 is not loaded by this server (loaded: crnn-en:{DEFAULT_MODEL_VERSION}, crnn-en:1.0.0)",
        ),
        ("crnn-zh", "crnn-zh is not loaded by this server"),
        ("crnn-en:latest", "is not NAME or NAME:VERSION"),
    ],
)
def test_a_model_the_server_does_not_load_is_400_and_nothing_is_stored(redis_server, rds, pages, model, says) -> None:  # type: ignore[no-untyped-def]
    client = two_model_client(redis_server)  # crnn-en 1.1.0 is installed in models/, but not loaded
    response = client.post(f"/api/v1/jobs?model={model}", data=files(*pages[:2]), content_type="multipart/form-data")
    assert response.status_code == 400 and response.json["error"]["code"] == "unknown_model"
    assert says in response.json["error"]["message"]
    assert job_keys(rds) == [] and rds.llen(QUEUE) == 0 and list(rds.scan_iter("ocr:idem:*")) == []


def test_an_idempotency_key_is_bound_to_the_model_too(redis_server, rds, pages) -> None:  # type: ignore[no-untyped-def]
    client = two_model_client(redis_server)
    headers = {"Idempotency-Key": "scan-0042"}

    def post(query: str):  # type: ignore[no-untyped-def]
        return client.post(
            f"/api/v1/jobs{query}", data=files(*pages[:2]), headers=headers, content_type="multipart/form-data"
        )

    first = post("")
    assert first.status_code == 202
    # another spelling of the same resolved model is the same job
    again = post(f"?model=crnn-en:{DEFAULT_MODEL_VERSION}")
    assert again.status_code == 202 and again.json["id"] == first.json["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    # the same files with another model are another submission: the key cannot be reused for them
    other = post("?model=crnn-en:1.0.0")
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    assert rds.llen(QUEUE) == 2


def test_worker_refuses_to_start_without_an_additional_model_installed(tmp_path: Path) -> None:
    """A worker that would lack one of the server's models refuses to start, naming it, instead of
    failing every page of the jobs pinned to it."""
    out = run_worker_cli(tmp_path, "model: {additional: [{name: crnn-en, version: 9.9.9}]}\njobs: {enabled: true}\n")
    assert out.returncode == 2
    assert out.stderr.startswith("ocr-worker: refusing to start: model crnn-en-9.9.9 not found in "), out.stderr
