"""The reading gate and the test-only fault switch, on a real gunicorn over HTTP.

A worker whose model misreads its bundle's golden set (here: a copy of the shipped bundle whose
expected texts were tampered with, or ``OCR_FAULT_INJECTION=golden=fail``) stays alive (``/health``
200) but unready (``/ready`` 503 ``golden_failed``), says why in ``/api/v1/info`` and in its
metrics, and refuses OCR work.  ``errors=<fraction>`` fails exactly that share of OCR requests with a
500 counted like any other response.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from server_support import RunningServer, start_server_with, stop_server

pytestmark = pytest.mark.slow


def metric(server: RunningServer, name: str, **labels: str) -> float | None:
    """One sample's value from ``/metrics`` (``None`` when absent)."""
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def recognize_n(server: RunningServer, png: bytes, n: int = 20) -> list[requests.Response]:
    """``n`` sequential ``/api/v1/recognize`` calls with one line image."""
    return [requests.post(f"{server.url}/api/v1/recognize", files={"image": png}, timeout=30) for _ in range(n)]


@pytest.fixture(scope="module")
def line_png(default_bundle: Path) -> bytes:
    """A real text-line image: the first line of the bundle's own golden set."""
    return (default_bundle / "golden" / "00.png").read_bytes()


def test_the_shipped_bundle_passes_its_golden_set(server: RunningServer, default_bundle: Path) -> None:
    expected = json.loads((default_bundle / "model.json").read_text())["golden"]
    ready = requests.get(f"{server.url}/ready", timeout=5)
    assert ready.status_code == 200
    golden = ready.json()["golden"]
    assert golden["passed"] is True and golden["status"] == "passed"
    assert golden["lines"] == expected["lines"] and golden["max_cer"] == expected["max_cer"]
    assert golden["cer"] <= expected["max_cer"]
    assert golden["seconds"] > 0  # its cost is measured by bench/golden_gate.py, not asserted here
    info = requests.get(f"{server.url}/api/v1/info", timeout=5).json()
    assert info["golden"] == golden and "fault_injection" not in info
    assert metric(server, "ocr_golden_passed") == 1.0
    assert metric(server, "ocr_golden_cer") == pytest.approx(golden["cer"])
    ready_log = next(e for e in server.json_logs() if e.get("message") == "model ready")
    assert ready_log["golden"]["status"] == "passed"


def test_without_fault_injection_no_request_fails(server: RunningServer, line_png: bytes) -> None:
    before = metric(server, "ocr_http_requests_total", endpoint="/api/v1/recognize", status="500") or 0.0
    assert [r.status_code for r in recognize_n(server, line_png)] == [200] * 20
    assert (metric(server, "ocr_http_requests_total", endpoint="/api/v1/recognize", status="500") or 0.0) == before


def test_a_tampered_golden_set_keeps_the_worker_unready(tampered_server: RunningServer, line_png: bytes) -> None:
    server = tampered_server
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200  # alive: not restarted
    ready = requests.get(f"{server.url}/ready", timeout=5)
    assert ready.status_code == 503 and "Retry-After" not in ready.headers
    body = ready.json()
    assert body["error"]["code"] == "golden_failed"
    golden = body["golden"]
    assert golden["passed"] is False and golden["status"] == "failed"
    assert golden["cer"] > golden["max_cer"] and golden["lines"] == 28
    assert "above the bound" in golden["reason"] and body["error"]["message"] == golden["reason"]
    info = requests.get(f"{server.url}/api/v1/info", timeout=5).json()
    assert info["ready"] is False and info["golden"] == golden and info["load_error"] is None
    assert info["model"]["name"] == "crnn-en"  # loaded; it just reads badly
    ocr = requests.post(f"{server.url}/api/v1/recognize", files={"image": line_png}, timeout=30)
    assert ocr.status_code == 503 and ocr.json()["error"]["code"] == "golden_failed"
    assert metric(server, "ocr_golden_passed") == 0.0
    assert metric(server, "ocr_golden_cer") == pytest.approx(golden["cer"])
    assert metric(server, "ocr_model_ready") == 0.0
    # one ERROR line at start-up says why (each refused OCR request logs its own 503 besides)
    errors = [e for e in server.json_logs() if e.get("level") == "error" and e.get("logger") == "ocr_server.service"]
    assert len(errors) == 1 and errors[0]["golden"]["reason"] == golden["reason"]


def test_golden_fail_switch_keeps_the_shipped_bundle_unready(tmp_path: Path) -> None:
    server = start_server_with(tmp_path, "golden-fail", faults="golden=fail", until_ready=False)
    try:
        ready = requests.get(f"{server.url}/ready", timeout=5)
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "golden_failed"
        assert "golden=fail" in ready.json()["golden"]["reason"]
        info = requests.get(f"{server.url}/api/v1/info", timeout=5).json()
        assert info["fault_injection"] == {"golden": "fail"} and info["golden"]["passed"] is False
        assert requests.get(f"{server.url}/health", timeout=5).status_code == 200
        warnings = [e for e in server.json_logs() if e.get("level") == "warning" and "fault injection" in e["message"]]
        assert warnings and warnings[0]["fault_injection"] == {"golden": "fail"}
    finally:
        stop_server(server)


def test_errors_switch_fails_that_share_of_ocr_requests(tmp_path: Path, line_png: bytes) -> None:
    server = start_server_with(tmp_path, "errors-half", faults="errors=0.5")
    try:
        responses = recognize_n(server, line_png)
        failed = [r for r in responses if r.status_code == 500]
        assert len(failed) == 10 and all(r.json()["error"]["code"] == "injected_fault" for r in failed)
        assert all(r.status_code == 200 for r in responses if r not in failed)
        assert metric(server, "ocr_http_requests_total", endpoint="/api/v1/recognize", status="500") == 10.0
        assert metric(server, "ocr_http_requests_total", endpoint="/api/v1/recognize", status="200") == 10.0
        info = requests.get(f"{server.url}/api/v1/info", timeout=5).json()
        assert info["fault_injection"] == {"errors": 0.5} and info["golden"]["passed"] is True
        assert requests.get(f"{server.url}/ready", timeout=5).status_code == 200  # errors do not touch readiness
    finally:
        stop_server(server)


def test_errors_zero_fails_nothing(tmp_path: Path, line_png: bytes) -> None:
    server = start_server_with(tmp_path, "errors-zero", faults="errors=0")
    try:
        assert [r.status_code for r in recognize_n(server, line_png)] == [200] * 20
        assert metric(server, "ocr_http_requests_total", endpoint="/api/v1/recognize", status="500") is None
        assert "fault_injection" not in requests.get(f"{server.url}/api/v1/info", timeout=5).json()
    finally:
        stop_server(server)
