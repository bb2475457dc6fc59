"""The real server: gunicorn + the shipped model + the line detector, over loopback HTTP.

Recognised text is only checked loosely (the model is retrained over time); shapes, statuses,
boxes, headers and the server's survival are checked strictly.
"""

from __future__ import annotations

import json
import threading

import pytest
import requests
from PIL import Image
from server_support import RunningServer, SroiePage, encode, raw_png, text_page

from ocr_server.config import DEFAULT_MODEL_VERSION

pytestmark = pytest.mark.slow

TIMEOUT = 60


def post_image(server: RunningServer, path: str, data: bytes, name: str = "page.jpg", **kw) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.post(f"{server.url}{path}", files={"image": (name, data)}, timeout=TIMEOUT, **kw)


def test_operational_endpoints(server: RunningServer) -> None:
    assert requests.get(f"{server.url}/health", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{server.url}/ready", timeout=5)
    assert ready.status_code == 200 and ready.json()["model"]["name"] == "crnn-en"
    doc = requests.get(f"{server.url}/openapi.json", timeout=5).json()
    assert {"/api/v1/ocr", "/api/v1/recognize", "/health", "/ready", "/metrics"} <= set(doc["paths"])
    info = requests.get(f"{server.url}/api/v1/info", timeout=5).json()
    assert info["ready"] is True and info["model"]["version"] == DEFAULT_MODEL_VERSION
    assert info["inference_threads"] == 1 and "config" not in info  # server.exposeConfig is off
    page = requests.get(f"{server.url}/", timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert requests.get(f"{server.url}/static/app.css", timeout=5).status_code == 200


def test_ocr_of_a_real_receipt(server: RunningServer, sroie_page: SroiePage) -> None:
    data = sroie_page.path.read_bytes()
    response = post_image(server, "/api/v1/ocr", data, headers={"X-Request-ID": "receipt-1"})
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"] == "receipt-1"
    body = response.json()
    assert body["model"] == {"name": "crnn-en", "version": DEFAULT_MODEL_VERSION}
    assert body["image"] == {"width": sroie_page.width, "height": sroie_page.height}
    assert set(body["timings_ms"]) == {"decode", "preprocess", "detect", "recognize", "total"}
    lines = body["lines"]
    # the detector finds most of the ground-truth lines; each box lies inside the page
    assert len(lines) >= len(sroie_page.lines) // 2
    for line in lines:
        x1, y1, x2, y2 = line["box"]
        assert 0 <= x1 < x2 <= sroie_page.width and 0 <= y1 < y2 <= sroie_page.height
        assert 0.0 <= line["confidence"] <= 1.0
    assert any(line["text"].strip() for line in lines)  # loosely: the model is retrained over time
    assert body["text"].split() == [word for line in lines for word in line["text"].split()]
    centres = [(b[1] + b[3]) / 2 for b in (line["box"] for line in lines)]
    assert centres[0] < centres[-1]  # reading order runs down the page


def test_a_two_column_page_reads_column_by_column(server: RunningServer) -> None:
    """Over HTTP, the left column's lines come whole before the right column's, and the page number last."""
    from bench.column_pages import SERIF, SERIF_BOLD, columns_page
    from bench.common import cer
    from tests.needs import missing

    if not (SERIF.is_file() and SERIF_BOLD.is_file()):
        missing(f"DejaVu Serif not found at {SERIF.parent} (apt: fonts-dejavu-core; make setup-apt)")
    page = columns_page(2, lines_per_column=8, stagger=7)
    response = post_image(server, "/api/v1/ocr", encode(Image.fromarray(page.image), "PNG"), name="columns.png")
    assert response.status_code == 200, response.text
    lines = [line["text"] for line in response.json()["lines"]]
    assert len(lines) == len(page.texts)
    # each line read is matched to the rendered line it reads closest to (the model reads this serif
    # face within a few per cent, and no two rendered lines are alike)
    matched = [min(range(len(page.texts)), key=lambda i, t=text: cer(t, page.texts[i])) for text in lines]
    assert matched == list(range(len(page.texts))), list(zip(matched, lines, strict=True))
    assert response.json()["text"].splitlines()[1] == lines[1]
    blocks = [line["block"] for line in response.json()["lines"]]
    assert blocks == [0] + [1] * 8 + [2] * 8 + [3]  # title, left column, right column, page number


def test_a_dark_mode_screenshot_is_read(server: RunningServer) -> None:
    """Light grey text on near-black, as a dark-mode editor shows it: over HTTP every line is read."""
    from server_support import drawn_lines

    from bench.common import cer

    texts = ["Build succeeded in 4.2 seconds", "Open the settings to change the theme", "Tests passed: 118, failed: 0"]
    img = drawn_lines(texts, (900, 260), (30, 30, 30), (212, 212, 212))
    response = post_image(server, "/api/v1/ocr", encode(img, "PNG"), name="dark.png")
    assert response.status_code == 200, response.text
    lines = [line["text"] for line in response.json()["lines"]]
    assert len(lines) == 3 and cer("\n".join(lines), "\n".join(texts)) <= 0.05, lines


def test_ocr_raw_body(server: RunningServer, sroie_page: SroiePage) -> None:
    response = requests.post(
        f"{server.url}/api/v1/ocr",
        data=sroie_page.path.read_bytes(),
        headers={"Content-Type": "image/jpeg"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200 and response.json()["lines"]


def test_recognize_line_crops_in_order(server: RunningServer, sroie_line_crops: list[bytes]) -> None:
    files = [("image", (f"line{i}.png", data)) for i, data in enumerate(sroie_line_crops)]
    response = requests.post(f"{server.url}/api/v1/recognize", files=files, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == len(sroie_line_crops)
    assert all(isinstance(r["text"], str) and 0.0 <= r["confidence"] <= 1.0 for r in results)
    assert any(r["text"].strip() for r in results)


def _jpeg() -> bytes:
    return encode(Image.fromarray(text_page()), "JPEG")


HOSTILE = {
    # name: (endpoint, multipart file name, bytes factory, expected status, expected code)
    "truncated jpeg": ("/api/v1/ocr", "scan.jpg", lambda: _jpeg()[:3000], 422, "undecodable_image"),
    "png decompression bomb": ("/api/v1/ocr", "bomb.png", lambda: raw_png(10_000, 10_000), 413, "too_many_pixels"),
    "jpeg bytes named .png": ("/api/v1/ocr", "photo.png", _jpeg, 200, None),
    "png magic, garbage body": ("/api/v1/ocr", "x.png", lambda: b"\x89PNG\r\n\x1a\n" + b"junk" * 100, 422, None),
    "wrong magic, right extension": ("/api/v1/ocr", "scan.jpg", lambda: b"GIF89a" + b"\0" * 500, 415, None),
    "text file named .png": ("/api/v1/ocr", "notes.png", lambda: b"just some text\n" * 20, 415, None),
    "empty file": ("/api/v1/ocr", "empty.png", lambda: b"", 400, "empty_upload"),
    "zero-size image": ("/api/v1/ocr", "zero.png", lambda: raw_png(0, 0, rows=0), 422, "undecodable_image"),
    "6 MB file": ("/api/v1/ocr", "big.jpg", lambda: b"\xff\xd8\xff" + b"\0" * (6 * 1024 * 1024), 413, None),
    "too many images": ("/api/v1/recognize", None, None, 413, "too_many_images"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_input_gets_a_json_error_and_the_server_stays_up(server: RunningServer, case: str) -> None:
    endpoint, name, make, status, code = HOSTILE[case]
    if make is None:  # nine line images where the test server allows eight
        crop = encode(Image.new("L", (60, 32), 255), "PNG")
        files = [("image", (f"l{i}.png", crop)) for i in range(9)]
        response = requests.post(f"{server.url}{endpoint}", files=files, timeout=TIMEOUT)
    else:
        response = post_image(server, endpoint, make(), name=name)
    assert response.status_code == status, response.text
    if status != 200:
        error = response.json()["error"]
        assert set(error) == {"code", "message"} and error["message"]
        if code:
            assert error["code"] == code
        assert "Traceback" not in response.text
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200


def test_empty_raw_body_is_400(server: RunningServer) -> None:
    response = requests.post(f"{server.url}/api/v1/ocr", data=b"", headers={"Content-Type": "image/png"}, timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == "empty_upload"


def test_saturation_is_shed_with_429_and_retry_after(server: RunningServer, sroie_pages: list[SroiePage]) -> None:
    """The test server has one OCR slot: of several simultaneous pages, the extra ones get 429 at once."""
    data = max(sroie_pages[:10], key=lambda p: p.width * p.height).path.read_bytes()
    responses: list[requests.Response] = []
    lock = threading.Lock()

    def call() -> None:
        r = post_image(server, "/api/v1/ocr", data)
        with lock:
            responses.append(r)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    statuses = sorted(r.status_code for r in responses)
    assert len(statuses) == 4 and set(statuses) <= {200, 429}, statuses
    assert 200 in statuses and 429 in statuses, statuses
    shed = next(r for r in responses if r.status_code == 429)
    assert shed.headers["Retry-After"] == "1" and shed.json()["error"]["code"] == "overloaded"
    assert shed.elapsed.total_seconds() < 2.0  # answered at once, not after queueing
    assert requests.get(f"{server.url}/health", timeout=5).status_code == 200


def test_metrics_after_traffic(server: RunningServer, sroie_page: SroiePage) -> None:
    post_image(server, "/api/v1/ocr", sroie_page.path.read_bytes())
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    assert 'ocr_http_requests_total{endpoint="/api/v1/ocr",method="POST",status="200"}' in text
    assert 'ocr_stage_duration_seconds_count{stage="recognize"}' in text
    assert f'ocr_model_info{{name="crnn-en",version="{DEFAULT_MODEL_VERSION}"}} 1.0' in text
    assert "ocr_model_ready 1.0" in text
    assert "ocr_requests_shed_total" in text


def test_logs_are_json_lines_with_request_ids_and_no_image_bytes(server: RunningServer) -> None:
    requests.get(f"{server.url}/api/v1/info", headers={"X-Request-ID": "log-check-7"}, timeout=5)
    lines = server.logs().splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]  # every line parses as JSON
    access = [e for e in entries if e.get("message") == "request"]
    assert any(e["request_id"] == "log-check-7" and e["status"] == 200 for e in access)
    ocr = [e for e in access if e["endpoint"] == "/api/v1/ocr" and e["status"] == 200]
    assert ocr and set(ocr[0]["timings_ms"]) >= {"decode", "preprocess", "detect", "recognize", "total"}
    assert max(len(line) for line in lines) < 5000  # no image content in the logs
