"""Upload validation: type by magic bytes (never by name), size limits, counts, no disk writes."""

from __future__ import annotations

import io

import pytest
from flask import Flask, request
from PIL import Image
from server_support import encode, text_page

from ocr_server.errors import EmptyUpload, MissingImage, PayloadTooLarge, TooManyImages, UnsupportedMediaType
from ocr_server.uploads import InMemoryRequest, check_image_bytes, read_uploads, sniff_image_type

SMALL = Image.fromarray(text_page(120, 40, 1)).convert("RGB")


@pytest.mark.parametrize(
    ("fmt", "kind"), [("PNG", "png"), ("JPEG", "jpeg"), ("BMP", "bmp"), ("TIFF", "tiff"), ("WEBP", "webp")]
)
def test_sniffs_every_supported_format(fmt: str, kind: str) -> None:
    assert sniff_image_type(encode(SMALL, fmt)) == kind


def test_big_endian_tiff_is_recognised() -> None:
    assert sniff_image_type(b"MM\x00*" + b"\0" * 20) == "tiff"


@pytest.mark.parametrize(
    "data",
    [b"text named invoice.png\n", b"%PDF-1.7\n", b"GIF89a" + b"\0" * 20, b"RIFF\0\0\0\0WAVEfmt ", b"\x89PN"],
)
def test_rejects_what_is_not_a_supported_image(data: bytes) -> None:
    assert sniff_image_type(data) is None
    with pytest.raises(UnsupportedMediaType) as err:
        check_image_bytes(data, "upload", 10_000)
    assert err.value.status == 415


def test_empty_is_400_and_oversize_is_413() -> None:
    with pytest.raises(EmptyUpload) as empty:
        check_image_bytes(b"", "upload", 100)
    assert empty.value.status == 400
    with pytest.raises(PayloadTooLarge) as big:
        check_image_bytes(encode(SMALL, "PNG"), "upload", 100)
    assert big.value.status == 413


def _app() -> Flask:
    app = Flask(__name__)
    app.request_class = InMemoryRequest
    return app


def test_repeated_multipart_field_in_order_and_count_limit() -> None:
    png, jpg = encode(SMALL, "PNG"), encode(SMALL, "JPEG")
    files = [(io.BytesIO(png), "a.png"), (io.BytesIO(jpg), "b.png")]  # b.png is really a JPEG
    with _app().test_request_context("/", method="POST", data={"image": files}, content_type="multipart/form-data"):
        uploads = read_uploads(request, max_bytes=100_000, max_count=2)
        assert [u.kind for u in uploads] == ["png", "jpeg"]
        with pytest.raises(TooManyImages) as err:
            read_uploads(request, max_bytes=100_000, max_count=1)
        assert err.value.status == 413


def test_raw_body_and_missing_image() -> None:
    png = encode(SMALL, "PNG")
    with _app().test_request_context("/", method="POST", data=png, content_type="application/octet-stream"):
        (upload,) = read_uploads(request, max_bytes=100_000, max_count=1)
        assert upload.kind == "png" and upload.data == png
    with (
        _app().test_request_context("/", method="POST", data={"other": "x"}, content_type="multipart/form-data"),
        pytest.raises(MissingImage),
    ):
        read_uploads(request, max_bytes=100_000, max_count=1)
    with _app().test_request_context("/", method="POST"), pytest.raises(MissingImage):
        read_uploads(request, max_bytes=100_000, max_count=1)


def test_multipart_files_stay_in_memory(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Werkzeug would spool parts above 500 KB to a temporary file; ours never touch the disk."""
    import tempfile

    def no_disk(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("an upload was written to a temporary file")

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", no_disk)
    monkeypatch.setattr(tempfile, "TemporaryFile", no_disk)
    big = b"\xff\xd8\xff" + b"\0" * 1_500_000
    with _app().test_request_context(
        "/", method="POST", data={"image": (io.BytesIO(big), "big.jpg")}, content_type="multipart/form-data"
    ):
        (upload,) = read_uploads(request, max_bytes=2_000_000, max_count=1)
        assert len(upload.data) == len(big)
        assert isinstance(request.files["image"].stream, io.BytesIO)
