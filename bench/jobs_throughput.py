"""Batch OCR through ``/api/v1/jobs``: throughput with 1 and 2 worker processes, and what the batch does
to interactive ``/api/v1/ocr`` latency meanwhile.

For each worker count the script starts a throw-away ``redis-server`` (loopback, no persistence),
the real server (gunicorn, 1 worker, 1 inference thread) and ``python -m ocr_server.jobs.worker``
with a prefork pool of N processes (1 inference thread each), then:

1. idle: ``--interactive`` sequential ``POST /api/v1/ocr`` requests → the interactive p50/p95 alone;
2. batch: ``--pages`` sroie-dev receipts (cycled) submitted at once as jobs of ``--job-size`` pages,
   polled until all have finished, while one client keeps sending ``/api/v1/ocr`` requests (one at a
   time, ``--think`` seconds apart) → pages/s, end-to-end job latency, interactive p50/p95 under load.

``--pin`` gives the server and the workers separate CPUs (``sched_setaffinity``, inherited by their
processes), as separate pods with CPU limits would have: server on CPU 0, workers on the others
(with 2 cores and 2 worker processes the workers get CPU 1 twice over, so ``--pin`` applies to the
1-worker run only unless the machine has more cores).

    nice python bench/jobs_throughput.py --pages 200 --workers 1,2 --pin --json jobs.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import format_table, latency_summary, load_pages, percentile, write_json
from bench.server import REPO_ROOT, free_port, running_server


def _post(url: str, body: bytes, content_type: str, timeout: float = 120.0) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def multipart(files: list[bytes]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for i, data in enumerate(files):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="p{i}.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@contextmanager
def redis_server() -> Iterator[str]:
    exe = shutil.which("redis-server")
    if not exe:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port, folder = free_port(), tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def jobs_env(redis_url: str, concurrency: int) -> dict[str, str]:
    return {
        "OCR__JOBS__ENABLED": "true",
        "OCR__JOBS__REDIS_URL": redis_url,
        "OCR__JOBS__WORKER_CONCURRENCY": str(concurrency),
        "OCR__JOBS__METRICS_PORT": str(free_port()),
        "OCR__JOBS__MAX_FILES_PER_JOB": "1000",
        "OCR__JOBS__MAX_BYTES_PER_JOB": str(512 * 1024 * 1024),
        "OCR__RECOGNITION__THREADS": "1",
        "OCR__SERVER__LOG_LEVEL": "warning",
        "OMP_NUM_THREADS": "1",
    }


@contextmanager
def affinity(cpus: set[int] | None) -> Iterator[None]:
    """Processes started inside the block inherit ``cpus``."""
    before = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@contextmanager
def worker_pool(redis_url: str, concurrency: int, log: Path) -> Iterator[None]:
    env = {**os.environ, **jobs_env(redis_url, concurrency)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ocr_server.jobs.worker", "--loglevel=info"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while log.read_bytes().count(b"model ready") < concurrency:  # every pool process loaded the model
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield
    finally:
        proc.terminate()
        proc.wait(60)


def interactive(url: str, pages: list[bytes], stop: threading.Event | None, count: int, think: float) -> list[float]:
    """Sequential /api/v1/ocr calls: ``count`` of them, or until ``stop`` is set."""
    seconds: list[float] = []
    i = 0
    while (stop is None and i < count) or (stop is not None and not stop.is_set()):
        t0 = time.perf_counter()
        status, _ = _post(f"{url}/api/v1/ocr", pages[i % len(pages)], "image/jpeg")
        if status == 200:
            seconds.append(time.perf_counter() - t0)
        i += 1
        time.sleep(think)
    return seconds


def run(concurrency: int, pages: list[bytes], args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0))
    pin = args.pin and len(cpus) > concurrency
    server_cpus, worker_cpus = ({cpus[0]}, set(cpus[1:])) if pin else (None, None)
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server())
        env = jobs_env(redis_url, concurrency)
        with affinity(server_cpus):  # gunicorn and its worker inherit the server's CPUs
            server_log = logs / f"server-{concurrency}.log"
            url = stack.enter_context(running_server(workers=1, threads=1, extra_env=env, log_path=server_log))
        with affinity(worker_cpus):
            stack.enter_context(worker_pool(redis_url, concurrency, logs / f"worker-{concurrency}.log"))
        sample = pages[:10]
        interactive(url, sample, None, 3, 0.0)  # warm-up
        idle = interactive(url, sample, None, args.interactive, args.think)
        stop = threading.Event()
        busy: list[float] = []
        client = threading.Thread(
            target=lambda: busy.extend(interactive(url, sample, stop, 0, args.think)), daemon=True
        )
        batch = [pages[i % len(pages)] for i in range(args.pages)]
        t0 = time.time()
        client.start()
        ids = []
        for start in range(0, len(batch), args.job_size):
            body, ctype = multipart(batch[start : start + args.job_size])
            status, answer = _post(f"{url}/api/v1/jobs", body, ctype)
            assert status == 202, answer
            ids.append(answer["id"])
        jobs: dict[str, dict[str, Any]] = {}
        while len(jobs) < len(ids):
            for job_id in ids:
                if job_id not in jobs:
                    job = _get(f"{url}/api/v1/jobs/{job_id}")
                    if job["status"] in ("succeeded", "failed", "cancelled"):
                        jobs[job_id] = job
            time.sleep(0.5)
        elapsed = time.time() - t0
        stop.set()
        client.join(120)
    failed = sum(j["progress"]["failed"] for j in jobs.values())
    end_to_end = [j["timings_ms"]["total"] / 1000.0 for j in jobs.values()]
    return {
        "worker_processes": concurrency,
        "pinned": pin,
        "pages": len(batch),
        "jobs": len(ids),
        "failed_pages": failed,
        "seconds": round(elapsed, 1),
        "pages_per_s": round(len(batch) / elapsed, 2),
        "job_latency_s": {
            "p50": round(percentile(end_to_end, 50), 1),
            "max": round(max(end_to_end), 1),
        },
        "interactive_idle": latency_summary(idle),
        "interactive_during_batch": latency_summary(busy),
        "loadavg": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--job-size", type=int, default=20, help="pages per job")
    ap.add_argument("--workers", default="1,2", help="worker pool sizes to run, comma-separated")
    ap.add_argument("--interactive", type=int, default=20, help="idle /api/v1/ocr requests")
    ap.add_argument("--think", type=float, default=0.25, help="seconds between interactive requests")
    ap.add_argument("--pin", action="store_true", help="separate CPUs for the server and the workers")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    pages = [p.image_path.read_bytes() for p in load_pages("sroie-dev")]
    logs = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    results = [run(int(n), pages, args, logs) for n in args.workers.split(",")]
    rows = [
        [
            r["worker_processes"],
            "yes" if r["pinned"] else "no",
            r["pages"],
            r["pages_per_s"],
            r["job_latency_s"]["p50"],
            r["job_latency_s"]["max"],
            r["interactive_idle"]["p95_ms"],
            r["interactive_during_batch"]["p95_ms"],
            r["failed_pages"],
        ]
        for r in results
    ]
    headers = [
        "workers",
        "pinned",
        "pages",
        "pages/s",
        "job p50 s",
        "job max s",
        "ocr p95 idle",
        "ocr p95 batch",
        "failed",
    ]
    print(format_table(rows, headers))
    print(f"logs: {logs}")
    if args.json:
        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
