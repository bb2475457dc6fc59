"""Low-contrast pages are stretched before line detection; printed pages and flat pages are not."""

from __future__ import annotations

import numpy as np
import pytest
from server_support import text_page
from test_polarity import lines_page

from ocr_server.config import DetectionConfig, PreprocessingConfig
from ocr_server.detection.opencv import detect_lines
from ocr_server.imaging.contrast import stretch_low_contrast
from ocr_server.imaging.preprocess import preprocess


def detected(gray: np.ndarray, **pre: object) -> list[tuple[int, int, int, int]]:
    return detect_lines(preprocess(gray, PreprocessingConfig(deskew=False, **pre)).gray, DetectionConfig())


@pytest.mark.parametrize(
    ("ground", "ink"),
    [
        (255, 205),  # yellow on white, as luminance
        (81, 134),  # green on red: light ink, turned as well
        (255, 190),  # light-grey print
        (0, 40),  # blue on black
    ],
)
def test_low_contrast_text_is_found(ground: int, ink: int) -> None:
    page = lines_page(800, 360, ground=ground, ink=ink)
    printed = detected(lines_page(800, 360, ground=255, ink=0))
    assert detected(page, stretch_low_contrast=False) != printed  # before: nothing, or broken lines
    found = detected(page)
    assert len(found) == len(printed) == 5
    assert all(abs(a[0] - b[0]) <= 3 and abs(a[2] - b[2]) <= 3 for a, b in zip(found, printed, strict=True))


def test_a_printed_page_and_a_flat_page_are_left_alone() -> None:
    page = text_page(900, 600)
    out, changed = stretch_low_contrast(page)
    assert not changed and out is page
    flat = np.full((300, 300), 128, np.uint8)
    flat[::7, ::5] = 131  # a few gray levels of texture: nothing to stretch
    assert stretch_low_contrast(flat)[1] is False


def test_the_stretch_maps_the_range_to_full_scale_and_keeps_the_crops() -> None:
    page = lines_page(800, 360, ground=200, ink=140)
    out, changed = stretch_low_contrast(page)
    assert changed and int(out.min()) == 0 and int(out.max()) == 255
    pre = preprocess(page, PreprocessingConfig(deskew=False, clahe_enabled=False))
    assert np.array_equal(pre.image, page)  # crops are cut from the page as uploaded
