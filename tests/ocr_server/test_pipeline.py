"""The pipeline without HTTP: stage timings, crops, and boxes mapped back to the uploaded image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from server_support import TinyRecognizer, encode, text_page

from ocr_server.config import parse_config
from ocr_server.detection import create_detector
from ocr_server.imaging.preprocess import rotate
from ocr_server.pipeline import OcrLine, OcrPipeline, crop_line, is_text, join_lines
from ocr_server.recognition.recognizer import LineResult


def pipeline(**sections: dict) -> OcrPipeline:
    config = parse_config(sections)
    return OcrPipeline(config, create_detector(config.detection), TinyRecognizer())


def _ink_in(img: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x1, y1, x2, y2 = box
    return float((img[y1:y2, x1:x2] < 128).mean())


def test_page_result_shape_and_timings() -> None:
    result = pipeline().read_page(encode(Image.fromarray(text_page()), "PNG"))
    assert (result.width, result.height) == (600, 400)
    assert list(result.timings_ms) == ["decode", "preprocess", "detect", "recognize", "total"]
    assert result.timings_ms["total"] >= sum(v for k, v in result.timings_ms.items() if k != "total") * 0.99
    assert len(result.lines) == 6


@pytest.mark.parametrize("angle", [0.0, 4.0])
def test_boxes_land_on_the_ink_of_the_uploaded_image(angle: float) -> None:
    """Through scaling (maxSide) and deskew, boxes come back in the upload's own pixels."""
    page = text_page(1200, 800, 6)
    if angle:
        page, _ = rotate(page, angle)
    result = pipeline(preprocessing={"maxSide": 700}).read_page(encode(Image.fromarray(page), "PNG"))
    assert (result.width, result.height) == (page.shape[1], page.shape[0])
    assert len(result.lines) >= 5
    for line in result.lines:
        assert _ink_in(page, line.box) > 0.03, line


def test_exif_rotated_upload_gets_upright_boxes() -> None:
    page = text_page(600, 400, 4)
    stored = np.rot90(page, k=1).copy()  # stored sideways; EXIF 6 says "rotate 90° clockwise to view"
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.fromarray(stored), "JPEG", exif=exif.tobytes(), quality=95)
    result = pipeline().read_page(data)
    assert (result.width, result.height) == (600, 400)
    assert len(result.lines) == 4
    for line in result.lines:
        assert _ink_in(page, line.box) > 0.03


def test_max_lines_caps_the_work() -> None:
    result = pipeline(detection={"maxLines": 2}).read_page(encode(Image.fromarray(text_page()), "PNG"))
    assert len(result.lines) == 2


class _Unsure:
    """Reads every other line with low confidence, and one as nothing at all."""

    def recognize(self, crops: list[np.ndarray]) -> list[LineResult]:
        out = [LineResult(f"line{i}", 0.9 if i % 2 == 0 else 0.3) for i in range(len(crops))]
        out[0] = LineResult("", 0.99)
        return out


@pytest.mark.parametrize(
    ("threshold", "kept"), [(0.0, ["line1", "line2", "line3", "line4", "line5"]), (0.5, ["line2", "line4"])]
)
def test_low_confidence_and_empty_readings_are_dropped_from_pages(threshold: float, kept: list[str]) -> None:
    config = parse_config({"recognition": {"minLineConfidence": threshold}})
    result = OcrPipeline(config, create_detector(config.detection), _Unsure()).read_page(
        encode(Image.fromarray(text_page()), "PNG")
    )
    assert [line.text for line in result.lines] == kept


def test_is_text() -> None:
    assert is_text(LineResult("TOTAL", 0.5), 0.5)
    assert not is_text(LineResult("TOTAL", 0.49), 0.5)
    assert not is_text(LineResult("  ", 1.0), 0.0)


def test_read_lines_keeps_every_crop_whatever_its_confidence() -> None:
    crops = [encode(Image.new("L", (w, 30), 255), "PNG") for w in (50, 200)]
    config = parse_config({})
    result = OcrPipeline(config, create_detector(config.detection), _Unsure()).read_lines(crops)
    assert [r.text for r in result.results] == ["", "line1"]


def test_read_lines_in_order() -> None:
    crops = [encode(Image.new("L", (w, 30), 255), "PNG") for w in (50, 200, 20)]
    result = pipeline().read_lines(crops)
    assert [r.text for r in result.results] == ["aaaaa", "a" * 20, "aa"]
    assert list(result.timings_ms) == ["decode", "recognize", "total"]


def test_crop_line_adds_the_training_margin_and_clips() -> None:
    page = np.zeros((100, 200), np.uint8)
    assert crop_line(page, (50, 40, 150, 60)).shape == (20 + 2 * 2, 100 + 2 * 2)
    assert crop_line(page, (0, 0, 10, 50)).shape == (55, 15)  # margin 5, clipped at the top/left
    assert crop_line(page, (10, 10, 10, 20)) is None


def test_join_lines_puts_one_printed_row_on_one_text_line() -> None:
    lines = [
        OcrLine("Plastic", 0.9, (10, 100, 80, 120)),
        OcrLine("31.00", 0.9, (300, 102, 360, 121)),
        OcrLine("Total", 0.9, (10, 140, 60, 160)),
    ]
    assert join_lines(lines) == "Plastic 31.00\nTotal"
