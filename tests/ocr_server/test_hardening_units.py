"""The hardening pieces on their own: scan counting, deadlines in decoding, budgets, framing, labels."""

from __future__ import annotations

import io
import logging
import random
import struct
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image
from server_support import encode, make_app, raw_png, text_page

from bench.hostile import progressive_jpeg_bomb
from ocr_server import metrics
from ocr_server.budget import Budget
from ocr_server.deadline import Deadline
from ocr_server.errors import (
    BodyTimeout,
    MalformedRequest,
    OcrError,
    Overloaded,
    RequestTimedOut,
    TooManyPixels,
    TooManyScans,
    UndecodableImage,
)
from ocr_server.framing import GuardedInput, classify_protocol_error, error_response_bytes
from ocr_server.imaging.decode import DECODE_BLOCK, decode_image
from ocr_server.imaging.jpeg import MAX_SCANS, count_scans
from ocr_server.logging import configure_logging

LIMIT = 40_000_000


# --------------------------------------------------------------------------- JPEG scans


def test_scan_counts_of_real_encoders() -> None:
    img = Image.fromarray(text_page(300, 200, 2))
    assert count_scans(encode(img, "JPEG")) == 1
    assert 2 <= count_scans(encode(img, "JPEG", progressive=True)) <= 20
    assert 2 <= count_scans(encode(img.convert("RGB"), "JPEG", progressive=True)) <= 20


def test_scan_count_of_the_bomb_stops_early() -> None:
    bomb = progressive_jpeg_bomb(400, 500)
    assert count_scans(bomb) == MAX_SCANS + 1  # stops counting past the limit
    assert count_scans(bomb, stop_after=10**6) > 500


@pytest.mark.parametrize(
    "data", [b"", b"\xff\xd8", b"\xff\xd8\xff\xda", b"\xff\xd8\xff\xda\x00\x08abc", b"\xff\xd8" + b"\xff" * 50]
)
def test_scan_count_survives_garbage(data: bytes) -> None:
    assert count_scans(data) >= 0


def test_decode_refuses_the_bomb_quickly_and_reads_real_progressive_files() -> None:
    start = time.perf_counter()
    with pytest.raises(TooManyScans):
        decode_image(progressive_jpeg_bomb(2000, 2000), max_pixels=LIMIT)
    assert time.perf_counter() - start < 0.5
    real = encode(Image.fromarray(text_page()), "JPEG", progressive=True)
    assert decode_image(real, max_pixels=LIMIT, gray=True).pixels.shape == (400, 600)


# --------------------------------------------------------------------------- deadlines in decoding


def test_an_expired_deadline_stops_decoding_as_a_timeout_not_a_422() -> None:
    deadline = Deadline(60)
    deadline.cancel()
    with pytest.raises(RequestTimedOut):
        decode_image(encode(Image.fromarray(text_page()), "PNG"), max_pixels=LIMIT, deadline=deadline)


class _CountingDeadline(Deadline):
    """Expires after ``checks`` checks: a deterministic stand-in for a clock running out mid-decode."""

    def __init__(self, checks: int) -> None:
        super().__init__(60)
        self.left = checks
        self.calls = 0

    def check(self) -> None:
        self.calls += 1
        self.left -= 1
        if self.left < 0:
            self.cancel()
        super().check()


def test_decoders_check_the_deadline_block_by_block() -> None:
    """A 2 MB PNG is fed to zlib in small blocks, each after a deadline check: running out part-way
    stops the decode there (the other checks sit between stages and images)."""
    noise = Image.frombytes("L", (1500, 1400), bytes(random.Random(1).randbytes(1500 * 1400)))
    data = encode(noise, "PNG", compress_level=1)
    deadline = _CountingDeadline(checks=20)
    with pytest.raises(RequestTimedOut):
        decode_image(data, max_pixels=LIMIT, gray=True, deadline=deadline)
    assert deadline.calls <= 25 < len(data) // DECODE_BLOCK  # stopped well before the end of the data


# --------------------------------------------------------------------------- messages


def test_pillow_bomb_guard_quotes_our_limit() -> None:
    with pytest.raises(TooManyPixels) as err:
        decode_image(raw_png(20_000, 20_000, rows=1), max_pixels=LIMIT)
    assert str(LIMIT) in err.value.message and "178956970" not in err.value.message


def _png_with_ztxt(size: int) -> bytes:
    png = encode(Image.new("L", (4, 4), 255), "PNG")
    payload = b"Comment\0\0" + zlib.compress(b"a" * size)
    chunk = struct.pack(">I", len(payload)) + b"zTXt" + payload + struct.pack(">I", zlib.crc32(b"zTXt" + payload))
    return png[:33] + chunk + png[33:]


@pytest.mark.parametrize(
    "data",
    [
        _png_with_ztxt(4 * 1024 * 1024),  # Pillow: "... PngImagePlugin.MAX_TEXT_CHUNK"
        encode(Image.fromarray(text_page()), "PNG")[:-40],  # truncated
        encode(Image.fromarray(text_page()), "JPEG")[:700] + b"\xff\xd9",
    ],
)
def test_decoder_messages_name_no_library_internals(data: bytes) -> None:
    try:
        decode_image(data, max_pixels=LIMIT)
    except UndecodableImage as err:
        assert "Plugin" not in err.message and "decoder error" not in err.message and "MAX_" not in err.message
    # (a decoder that reads the damaged file anyway is fine too)


def test_pillow_log_lines_are_silenced() -> None:
    configure_logging("info")
    assert logging.getLogger("PIL").getEffectiveLevel() == logging.CRITICAL
    assert not logging.getLogger("PIL.TiffImagePlugin").isEnabledFor(logging.ERROR)


# --------------------------------------------------------------------------- budgets


def test_budget_sheds_what_does_not_fit_and_releases_once() -> None:
    budget = Budget(100, "pixels")
    release = budget.reserve(70)
    with pytest.raises(Overloaded) as err:
        budget.reserve(40)
    assert err.value.status == 429 and err.value.retry_after == 1
    release()
    release()  # idempotent: never gives back twice
    assert budget.used == 0
    budget.reserve(100)()


def test_worker_pixel_budget_sheds_and_request_budget_refuses() -> None:
    app = make_app({"limits": {"maxRequestPixels": 60_000, "maxWorkerPixels": 100_000}})
    client = app.test_client()
    page = encode(Image.fromarray(text_page(240, 200, 2)), "PNG")  # 48,000 pixels
    state = app.extensions["ocr"]
    release = state.pixels.reserve(60_000)
    try:
        shed = client.post("/api/v1/ocr", data=page, content_type="image/png")
        assert shed.status_code == 429 and shed.json["error"]["code"] == "overloaded"
    finally:
        release()
    assert client.post("/api/v1/ocr", data=page, content_type="image/png").status_code == 200
    assert state.pixels.used == 0 and state.limiter.busy == 0
    big = encode(Image.new("L", (300, 250), 255), "PNG")  # 75,000 pixels
    refused = client.post("/api/v1/ocr", data=big, content_type="image/png")
    assert refused.status_code == 413 and "60000" in refused.json["error"]["message"]


def test_limits_must_be_consistent() -> None:
    from ocr_server.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="maxRequestPixels"):
        parse_config({"limits": {"maxRequestPixels": 50_000_000, "maxWorkerPixels": 40_000_000}})


# --------------------------------------------------------------------------- the guarded body


class _Exploding(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        raise ValueError("Invalid chunk size: 'zz'")  # as gunicorn's InvalidChunkSize would


def test_guarded_input_turns_parser_errors_into_400() -> None:
    with pytest.raises(MalformedRequest) as err:
        GuardedInput(_Exploding(b"x"), 5).read(10)
    assert err.value.status == 400 and "zz" not in err.value.message


def test_guarded_input_times_out_and_counts_bytes() -> None:
    budget = Budget(10, "bytes")
    stream = GuardedInput(io.BytesIO(b"12345678"), 5, budget)
    assert stream.read(8) == b"12345678" and budget.used == 8
    with pytest.raises(Overloaded):
        GuardedInput(io.BytesIO(b"abcdef"), 5, budget).read(6)
    stream.release()
    assert budget.used == 0
    late = GuardedInput(io.BytesIO(b"abc"), 0.01)
    time.sleep(0.02)
    with pytest.raises(BodyTimeout) as err:
        late.read(3)
    assert err.value.status == 408


def test_gunicorn_errors_are_classified() -> None:
    from gunicorn.http import errors as gerr

    assert classify_protocol_error(gerr.LimitRequestLine(9000, 4094))[:2] == (414, "uri_too_long")
    assert classify_protocol_error(gerr.LimitRequestHeaders("too many"))[:2] == (431, "headers_too_large")
    assert classify_protocol_error(gerr.InvalidHeader("CONTENT-LENGTH"))[0] == 400
    assert classify_protocol_error(gerr.InvalidChunkSize(b"zz"))[0] == 400
    assert classify_protocol_error(gerr.InvalidRequestLine("x"))[0] == 400
    assert classify_protocol_error(RuntimeError("ours"))[:2] == (500, "internal_error")
    raw = error_response_bytes(414, "uri_too_long", "the request line is too long")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 ") and b"Referrer-Policy: no-referrer" in head
    assert body == b'{"error": {"code": "uri_too_long", "message": "the request line is too long"}}'


def test_method_label_is_bounded() -> None:
    assert metrics.method_label("POST") == "POST"
    assert metrics.method_label("FOO") == metrics.method_label("propfind") == "other"


def test_every_error_is_an_ocr_error_with_json_shape() -> None:
    for cls in (BodyTimeout, MalformedRequest, RequestTimedOut, TooManyScans):
        assert issubclass(cls, OcrError) and cls().to_dict()["error"]["code"] == cls.code


_BROKEN_TIFF_SCRIPT = """
import io, sys
from PIL import Image
import numpy as np
buf = io.BytesIO()
img = Image.fromarray((np.arange(120 * 160) % 251).astype("uint8").reshape(120, 160))
img.save(buf, "TIFF", compression="tiff_adobe_deflate")
data = bytearray(buf.getvalue())
data[20:60] = bytes(range(40))  # the deflate stream starts after the 8-byte header
if sys.argv[1] == "server":
    from ocr_server.imaging.decode import decode_image
    from ocr_server.errors import UndecodableImage
    try:
        decode_image(bytes(data), max_pixels=10**7)
    except UndecodableImage:
        pass
else:
    try:
        Image.open(io.BytesIO(bytes(data))).load()
    except Exception:
        pass
"""


def test_libtiff_writes_nothing_to_stderr_for_a_broken_tiff() -> None:
    import subprocess
    import sys

    run = [sys.executable, "-c", _BROKEN_TIFF_SCRIPT]
    plain = subprocess.run([*run, "plain"], capture_output=True, text=True, timeout=60)
    assert plain.stderr.strip(), "the broken TIFF no longer makes libtiff print: the test proves nothing"
    ours = subprocess.run([*run, "server"], capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2])
    assert ours.stderr == "", ours.stderr


def test_line_detection_memory_on_a_noise_page_is_bounded() -> None:
    """A 4 MP page of noise has ~10,000 marks and ~1,300 lines; matching them all at once took 420 MB.
    Enlarging a page of small text is held to the same 4 MP (``Tuning.max_upscaled_pixels``)."""
    import tracemalloc

    import numpy as np

    from ocr_server.config import OcrConfig
    from ocr_server.detection.opencv import detect_lines
    from ocr_server.imaging.preprocess import preprocess

    cfg = OcrConfig()
    # 2,000 px: the largest page preprocessing passes on; 1,400 px: small enough for the small-text
    # rule to enlarge it (noise has a small "glyph" height), up to its 4 MP budget
    for side in (2000, 1400):
        noise = np.random.default_rng(0).integers(0, 256, (side, side), dtype=np.uint8)
        gray = preprocess(noise, cfg.preprocessing).gray
        tracemalloc.start()
        try:
            detect_lines(gray, cfg.detection)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 120 * 1024 * 1024, f"{side} px: {peak / 2**20:.0f} MB"
