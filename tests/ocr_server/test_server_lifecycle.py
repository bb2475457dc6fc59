"""Several workers: metrics aggregated across them, dead workers' gauges dropped, graceful stop."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from server_support import REPO_ROOT, free_port, gunicorn_command, server_env

pytestmark = pytest.mark.slow


def _worker_pids(master: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def _wait(predicate, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_two_workers_share_metrics_and_stop_gracefully(tmp_path: Path, require_model: None) -> None:
    config = tmp_path / "two.yaml"
    config.write_text("server: {workers: 2}\n", encoding="utf-8")
    prom_dir = tmp_path / "prometheus"
    prom_dir.mkdir()
    (prom_dir / "counter_99999.db").write_bytes(b"stale")  # left over from an earlier run
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            gunicorn_command(port),
            cwd=REPO_ROOT,
            env=server_env(config, PROMETHEUS_MULTIPROC_DIR=str(prom_dir)),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # both workers ready: the livemin gauge is 1 only when every live worker reports 1
        def both_ready() -> bool:
            text = requests.get(f"{url}/metrics", timeout=5).text
            return len(_worker_pids(proc.pid)) == 2 and "ocr_model_ready 1.0" in text

        _wait(both_ready)
        assert not (prom_dir / "counter_99999.db").exists()
        info = requests.get(f"{url}/api/v1/info", timeout=5).json()
        assert info["inference_threads"] == 1  # 2 cores shared by 2 workers (recognition.threads = 0)

        for _ in range(6):
            requests.get(f"{url}/health", timeout=5)
        text = requests.get(f"{url}/metrics", timeout=5).text
        # six health checks counted, whichever worker answered each (aggregated over workers)
        assert 'ocr_http_requests_total{endpoint="/health",method="GET",status="200"} 6.0' in text

        # a crashed worker is replaced and its live gauges are removed (child_exit → mark_process_dead)
        victim = min(_worker_pids(proc.pid))
        os.kill(victim, signal.SIGKILL)
        _wait(lambda: victim not in _worker_pids(proc.pid) and len(_worker_pids(proc.pid)) == 2)
        _wait(lambda: "ocr_model_ready 1.0" in requests.get(f"{url}/metrics", timeout=5).text)
        assert not list(prom_dir.glob(f"gauge_live*_{victim}.db"))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert code == 0, log.read_text()
    messages = log.read_text()
    assert "Handling signal: term" in messages and "Shutting down: Master" in messages
