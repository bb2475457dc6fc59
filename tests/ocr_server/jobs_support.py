"""Helpers for the job tests: a real ``redis-server`` on a free loopback port, real Celery workers.

Nothing here is mocked: Redis is Debian's ``redis-server`` (requirements/apt.txt), the workers are
``python -m ocr_server.jobs.worker`` processes with the shipped model.  Tests skip, saying why, when
``redis-server`` is not installed (and fail under ``CI=true``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests
import yaml
from server_support import REPO_ROOT, free_port, server_env

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def require_redis_server() -> None:
    if not Path(REDIS_SERVER).is_file():
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is missing (apt-get install redis-server; see requirements/apt.txt)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")


@dataclass
class RedisServer:
    """One redis-server process; ``restart()`` keeps the port (and, with AOF, the data)."""

    folder: Path
    persistent: bool
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.folder),
            "--save",
            "",
            "--appendonly",
            "yes" if self.persistent else "no",
            "--appendfsync",
            "always",
            "--protected-mode",
            "yes",
        ]
        with (self.folder / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start:\n{(self.folder / 'redis.log').read_text()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM: redis-server flushes its AOF (when on) and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_file: Path
    metrics_port: int

    def logs(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def pool_pids(self) -> list[int]:
        """The prefork pool processes (children of the worker's main process)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool): no chance to acknowledge or re-queue."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # Celery's warm shutdown: finish the running page
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def write_config(tmp: Path, config: dict, name: str) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def start_worker(tmp: Path, config: dict, *, name: str = "worker", ready_timeout: float = 120.0) -> Worker:
    """``python -m ocr_server.jobs.worker`` with ``config``; waits until its pool has loaded the model
    (the worker's metrics endpoint answers and Celery logged ``ready``)."""
    metrics_port = free_port()
    config = {**config, "jobs": {**config["jobs"], "metricsPort": metrics_port}}
    config_file = write_config(tmp, config, name)
    log_file = tmp / f"{name}.log"
    with log_file.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ocr_server.jobs.worker", f"--hostname={name}@%h"],
            cwd=REPO_ROOT,
            env=server_env(config_file),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = Worker(proc, log_file, metrics_port)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}:\n{worker.logs()[-3000:]}")
        if " ready." in worker.logs() and "model ready" in worker.logs():
            return worker
        time.sleep(0.2)
    worker.kill()
    raise RuntimeError(f"worker not ready after {ready_timeout} s:\n{worker.logs()[-3000:]}")


def wait_for_job(base_url: str, job_id: str, *, timeout: float = 180.0, until: tuple[str, ...] = ()) -> dict:
    """Poll ``GET /api/v1/jobs/{id}`` until the job is terminal (or in one of ``until``)."""
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = requests.get(f"{base_url}/api/v1/jobs/{job_id}", timeout=10).json()
        if body.get("status") in ("succeeded", "failed", "cancelled", *until):
            return body
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not finished after {timeout} s: {body}")


def wait_for_page_job(page, timeout: float = 120.0) -> str:  # type: ignore[no-untyped-def]
    """The web page's job line (``#job-progress``) once its job has ended, polled from the test
    (the page's CSP forbids the ``eval`` that Playwright's ``wait_for_function`` needs)."""
    deadline = time.monotonic() + timeout
    while not page.inner_text("#job-progress").startswith(("succeeded", "failed")):
        assert time.monotonic() < deadline, page.inner_text("#job-progress")
        time.sleep(0.25)
    return page.inner_text("#job-progress")
