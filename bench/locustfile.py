"""Locust users for the OCR server's load test (run through ``bench/load_test.sh``).

Each user posts a receipt from sroie-dev to ``POST /api/v1/ocr`` (raw JPEG body), waits a
moment, and repeats.  Outcomes are kept apart so the report can say what the issue demands:

* 200 with a ``text`` field                    → success, under ``/api/v1/ocr``.
* 429 or 503 with ``Retry-After``              → *deliberate shedding*: counted under
  ``/api/v1/ocr [shed]`` as a success (it is the server protecting itself, quickly).
* anything else (5xx, timeouts, bad JSON, a shed without ``Retry-After``) → failure.

Settings come from the environment so the shell script can vary them without editing this file:
``OCR_BENCH_PAGES`` (how many sroie-dev pages to rotate through, default 16),
``OCR_BENCH_WAIT`` (``min,max`` think time in seconds, default ``0.5,1.5``),
``OCR_BENCH_TIMEOUT`` (client timeout in seconds, default 60).
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from pathlib import Path

from locust import HttpUser, between, task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import load_pages

OCR_NAME = "/api/v1/ocr"
SHED_NAME = "/api/v1/ocr [shed]"
SHED_STATUSES = (429, 503)


def _env_float_pair(name: str, default: tuple[float, float]) -> tuple[float, float]:
    raw = os.environ.get(name)
    if not raw:
        return default
    lo, _, hi = raw.partition(",")
    return float(lo), float(hi or lo)


_PAGES = [p.image_path.read_bytes() for p in load_pages("sroie-dev", int(os.environ.get("OCR_BENCH_PAGES", "16")))]
_NEXT = itertools.cycle(range(len(_PAGES)))
_LOCK = threading.Lock()
_WAIT = _env_float_pair("OCR_BENCH_WAIT", (0.5, 1.5))
_TIMEOUT = float(os.environ.get("OCR_BENCH_TIMEOUT", "60"))


def next_page() -> bytes:
    """Pages in rotation, shared by all users, so every run sends the same mix."""
    with _LOCK:
        return _PAGES[next(_NEXT)]


class OcrUser(HttpUser):
    """One client uploading receipts one after another with a short think time."""

    wait_time = between(*_WAIT)

    @task
    def ocr_page(self) -> None:
        with self.client.post(
            "/api/v1/ocr",
            data=next_page(),
            headers={"Content-Type": "image/jpeg"},
            name=OCR_NAME,
            timeout=_TIMEOUT,
            catch_response=True,
        ) as resp:
            if resp.status_code in SHED_STATUSES:
                resp.request_meta["name"] = SHED_NAME
                if resp.headers.get("Retry-After"):
                    resp.success()
                else:
                    resp.failure(f"{resp.status_code} without Retry-After")
            elif resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
            else:
                try:
                    ok = isinstance(resp.json().get("text"), str)
                except ValueError:
                    ok = False
                if ok:
                    resp.success()
                else:
                    resp.failure("200 without a text field")
