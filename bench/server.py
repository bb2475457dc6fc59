"""Start the real OCR server (gunicorn, loopback only) for a benchmark, and stop it afterwards.

Benchmarks measure what users get, so they go through the same command the README and the
container use: ``gunicorn -c ocr_server/gunicorn.conf.py ocr_server.wsgi:app``, bound to
127.0.0.1 on a free port; settings are passed as the config's own ``OCR__SECTION__FIELD``
environment overrides.

    python bench/server.py --workers 1 --threads 2      # prints the URL, serves until Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(
    workers: int, threads: int, max_concurrent: int | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Process environment for gunicorn: worker count and inference threads as config overrides,
    native thread pools capped to the same number."""
    env = dict(os.environ)
    env.update(
        {
            "OCR__SERVER__WORKERS": str(workers),
            "OCR__RECOGNITION__THREADS": str(threads),
            "OCR__SERVER__LOG_LEVEL": "warning",
            "OMP_NUM_THREADS": str(threads),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
        }
    )
    if max_concurrent is not None:
        env["OCR__LIMITS__MAX_CONCURRENT_REQUESTS"] = str(max_concurrent)
    env.update(extra or {})
    return env


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    """Poll ``/ready`` until 200; raise if the server exits or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {proc.returncode} before becoming ready")
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"server at {url} not ready after {timeout:.0f} s")


@contextlib.contextmanager
def running_server(
    workers: int = 1,
    threads: int = 2,
    max_concurrent: int | None = None,
    extra_env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
) -> Iterator[str]:
    """Run gunicorn on a free loopback port for the duration of the block; yields the base URL.

    The server's stdout/stderr go to ``log_path`` (or are discarded) so they don't mix with tables.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "gunicorn",
        "-c", str(REPO_ROOT / "ocr_server" / "gunicorn.conf.py"),
        "--bind", f"127.0.0.1:{port}",
        "ocr_server.wsgi:app",
    ]  # fmt: skip
    sink = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=server_env(workers, threads, max_concurrent, extra_env), stdout=sink, stderr=sink
    )
    try:
        wait_ready(url, proc)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log_path:
            sink.close()  # type: ignore[union-attr]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2, help="inference threads per worker")
    args = ap.parse_args(argv)
    with running_server(args.workers, args.threads) as url:
        print(url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
