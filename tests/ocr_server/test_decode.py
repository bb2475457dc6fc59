"""Decoding: the pixel limit is enforced from the header before decoding; bad data is a 422."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image
from server_support import encode, raw_png, text_page

from ocr_server.errors import TooManyPixels, UndecodableImage
from ocr_server.imaging.decode import decode_image, read_size

LIMIT = 40_000_000


def test_gray_and_colour_layouts() -> None:
    rgb = Image.new("RGB", (30, 20), (255, 0, 0))  # pure red
    bgr = decode_image(encode(rgb, "PNG"), max_pixels=LIMIT)
    assert bgr.pixels.shape == (20, 30, 3) and bgr.pixels.dtype == np.uint8
    assert tuple(bgr.pixels[0, 0]) == (0, 0, 255)  # OpenCV channel order
    gray = decode_image(encode(rgb, "PNG"), max_pixels=LIMIT, gray=True)
    assert gray.pixels.shape == (20, 30)
    assert (gray.width, gray.height, gray.format, gray.scale) == (30, 20, "png", 1.0)


# pytest resets warning filters per test; the decode module's own "ignore" does not apply here.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_refused_from_the_header(png_bomb: bytes) -> None:
    """100 MB of pixels in ~100 KB: refused in milliseconds, i.e. without inflating it."""
    assert len(png_bomb) < 200_000
    start = time.perf_counter()
    with pytest.raises(TooManyPixels) as err:
        decode_image(png_bomb, max_pixels=LIMIT)
    assert time.perf_counter() - start < 0.5
    assert err.value.status == 413 and "10000x10000" in err.value.message


def test_absurd_header_dimensions_are_413_not_a_crash() -> None:
    with pytest.raises(TooManyPixels):
        read_size(raw_png(100_000, 100_000, rows=1), LIMIT)


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, 0)])
def test_zero_size_image_is_422(width: int, height: int) -> None:
    with pytest.raises(UndecodableImage) as err:
        decode_image(raw_png(width, height, rows=0), max_pixels=LIMIT)
    assert err.value.status == 422
    assert "object at 0x" not in err.value.message


def test_truncated_jpeg_and_png_are_422() -> None:
    page = Image.fromarray(text_page())
    for fmt in ("JPEG", "PNG"):
        data = encode(page, fmt)
        with pytest.raises(UndecodableImage):
            decode_image(data[: len(data) // 2], max_pixels=LIMIT)


def test_garbage_after_valid_magic_is_422() -> None:
    with pytest.raises(UndecodableImage):
        decode_image(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, max_pixels=LIMIT)
    with pytest.raises(UndecodableImage):
        decode_image(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4, max_pixels=LIMIT)


def test_exif_orientation_is_applied() -> None:
    """A 40x20 JPEG tagged 'rotate 90°' is 20 wide and 40 high upright, as a browser shows it."""
    img = Image.new("L", (40, 20), 255)
    img.paste(0, (0, 0, 10, 20))  # dark band on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode_image(encode(img, "JPEG", exif=exif.tobytes()), max_pixels=LIMIT, gray=True)
    assert (decoded.width, decoded.height) == (20, 40)
    assert decoded.pixels.shape == (40, 20)
    assert decoded.pixels[:10].mean() < 100 < decoded.pixels[-10:].mean()  # the band is now on top


def test_transparent_png_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    decoded = decode_image(encode(rgba, "PNG"), max_pixels=LIMIT, gray=True)
    assert decoded.pixels.min() == 255


def test_sixteen_bit_png_becomes_eight_bit() -> None:
    arr = (np.arange(100, dtype=np.uint16).reshape(10, 10) * 660).astype(np.uint16)
    img = Image.fromarray(arr)
    decoded = decode_image(encode(img, "PNG"), max_pixels=LIMIT, gray=True)
    assert decoded.pixels.dtype == np.uint8
    assert decoded.pixels[-1, -1] == round(99 * 660 / 257) and decoded.pixels[0, 0] == 0


def test_large_jpeg_is_decoded_reduced_with_full_size_reported() -> None:
    img = Image.fromarray(np.full((1200, 4400), 200, dtype=np.uint8))
    decoded = decode_image(encode(img, "JPEG"), max_pixels=LIMIT, gray=True, max_side=2000)
    assert (decoded.width, decoded.height) == (4400, 1200)
    assert 2000 <= decoded.pixels.shape[1] < 4400
    assert decoded.scale == pytest.approx(decoded.pixels.shape[1] / 4400)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "WEBP"])
def test_other_formats_decode(fmt: str) -> None:
    img = Image.fromarray(text_page(200, 80, 1)).convert("RGB")
    assert decode_image(encode(img, fmt), max_pixels=LIMIT).pixels.shape == (80, 200, 3)


def test_pixel_limit_is_exact() -> None:
    data = encode(Image.new("L", (100, 100), 255), "PNG")
    assert decode_image(data, max_pixels=10_000, gray=True).pixels.shape == (100, 100)
    with pytest.raises(TooManyPixels):
        decode_image(data, max_pixels=9_999)


def test_unaccepted_pillow_formats_are_not_even_tried() -> None:
    gif = io.BytesIO()
    Image.new("L", (10, 10)).save(gif, format="GIF")
    with pytest.raises(UndecodableImage):
        decode_image(gif.getvalue(), max_pixels=LIMIT)
