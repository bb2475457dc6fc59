"""Light text on dark ground is turned dark on light before detection, region by region; printed
pages, scanner shadows and the operator's switch leave the page alone.  Pages are drawn by OpenCV
(no data needed); one test reads a rendered dark slide with the shipped model through the pipeline."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from server_support import text_page

from ocr_server.config import DetectionConfig, PreprocessingConfig
from ocr_server.detection.opencv import detect_lines
from ocr_server.imaging.polarity import dark_on_light, light_ink_regions
from ocr_server.imaging.preprocess import preprocess


def lines_page(width: int, height: int, ground: int, ink: int, lines: int = 5, top: int = 60) -> np.ndarray:
    page = np.full((height, width), ground, np.uint8)
    for i in range(lines):
        cv2.putText(
            page, f"ITEM {i} PRICE 12.{i}0", (40, top + i * 50), cv2.FONT_HERSHEY_SIMPLEX, 1, ink, 2, cv2.LINE_AA
        )
    return page


def detected(gray: np.ndarray, **pre: object) -> list[tuple[int, int, int, int]]:
    page = preprocess(gray, PreprocessingConfig(deskew=False, **pre))
    return detect_lines(page.gray, DetectionConfig())


@pytest.mark.parametrize("ground", [20, 60, 105])
def test_light_text_on_a_dark_page_is_found_line_by_line(ground: int) -> None:
    dark = lines_page(800, 360, ground=ground, ink=235)
    printed = detected(lines_page(800, 360, ground=255, ink=0))
    assert len(printed) == 5

    def same(a: list, b: list) -> bool:
        return len(a) == len(b) and all(
            max(abs(u - v) for u, v in zip(p, q, strict=True)) <= 3 for p, q in zip(a, b, strict=False)
        )

    assert not same(detected(dark, invert_light_text=False), printed)  # before: glyph edges, no lines
    assert same(detected(dark), printed)  # the same boxes as the printed page with the same text


def test_a_dark_banner_is_turned_and_the_white_page_is_not() -> None:
    page = lines_page(900, 700, ground=255, ink=0, lines=4, top=260)
    page[:150] = 40
    cv2.putText(page, "ANNUAL REPORT 2026", (40, 95), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 250, 3, cv2.LINE_AA)
    mask = light_ink_regions(page)
    assert mask is not None and mask[:140].all() and not mask[170:].any()
    turned, changed = dark_on_light(page)
    assert changed and np.array_equal(turned[170:], page[170:])
    boxes = detected(page)
    assert len(boxes) == 5 and boxes[0][3] < 150  # the banner's title, then the four body lines


def test_a_printed_page_is_returned_as_it_is() -> None:
    page = text_page(900, 600)
    turned, changed = dark_on_light(page)
    assert not changed and turned is page


def test_a_dithered_scanner_shadow_is_not_text() -> None:
    """A dark, stippled band along the page edge: light specks in every cell, no plain ground."""
    rng = np.random.default_rng(0)
    page = text_page(900, 600)
    shadow = np.where(rng.random((600, 120)) < 0.12, 230, 25).astype(np.uint8)
    page[:, :120] = shadow
    assert light_ink_regions(page) is None


def test_tiny_and_colour_free_inputs() -> None:
    assert light_ink_regions(np.zeros((20, 20), np.uint8)) is None
    assert dark_on_light(np.full((400, 400), 255, np.uint8))[1] is False


def test_the_switch_off_keeps_the_page() -> None:
    dark = lines_page(800, 360, ground=30, ink=235)
    off = preprocess(dark, PreprocessingConfig(deskew=False, invert_light_text=False))
    assert float(off.gray.mean()) < 60 and np.array_equal(off.gray, off.image)
    on = preprocess(dark, PreprocessingConfig(deskew=False))
    assert float(on.gray.mean()) > 200
    assert np.array_equal(on.image, off.image)  # crops keep the page's own polarity: the recognizer turns them


def test_a_skewed_dark_page_is_deskewed_and_read() -> None:
    from ocr_server.imaging.preprocess import rotate

    dark, _ = rotate(lines_page(900, 420, ground=30, ink=235), 3.0)
    dark[dark == 255] = 30  # rotate fills the corners white; a dark page's corners stay dark
    page = preprocess(dark, PreprocessingConfig())
    assert abs(page.geometry.angle + 3.0) < 0.6 or abs(page.geometry.angle - 3.0) < 0.6
    assert len(detect_lines(page.gray, DetectionConfig())) == 5


@pytest.mark.model
def test_the_shipped_model_reads_a_dark_slide() -> None:
    """White text on navy, rendered in DejaVu Sans: through the whole pipeline, read almost exactly."""
    from server_support import drawn_lines

    from ocr_server.config import parse_config
    from ocr_server.detection import create_detector
    from ocr_server.pipeline import OcrPipeline
    from ocr_server.recognition.recognizer import load_recognizer
    from ocr_server.recognition.scoring import cer

    lines = ["Quarterly Results Overview", "Revenue grew 12 % to $4.2 million", "Operating costs fell in every region"]
    img = drawn_lines(lines, (1280, 720), (20, 30, 80), (255, 255, 255), font_px=32, origin=(90, 70), pitch=90)
    data = cv2.imencode(".png", cv2.cvtColor(np.array(img), cv2.COLOR_RGB2BGR))[1].tobytes()
    config = parse_config({})
    rec = load_recognizer(config.model.name, config.model.version, threads=1)
    result = OcrPipeline(config, create_detector(config.detection), rec).read_page(data)
    assert len(result.lines) == 3
    assert cer([(line.text, truth) for line, truth in zip(result.lines, lines, strict=True)]) <= 0.03


def test_a_bar_whose_edges_cut_across_cells_is_turned_to_its_edge() -> None:
    """The cells that straddle a table header bar's edges hold a strip of its dark ground; left out,
    that strip became a dark rule after the turn, and the words touching it were cut (``ets Lookin
    arters``).  The mask follows the bar to the pixel; the white page beside it stays as it was."""
    page = np.full((700, 1000), 255, np.uint8)
    top, bottom, left = 303, 349, 57  # not on the 6 px cell grid
    page[top:bottom, left:940] = 60
    for x, word in ((left + 4, "SETS"), (400, "LOOKING"), (700, "QUARTERS")):
        cv2.putText(page, word, (x, bottom - 8), cv2.FONT_HERSHEY_SIMPLEX, 1.1, 250, 3, cv2.LINE_AA)
    for i in range(3):
        cv2.putText(page, f"ROW {i} VALUE 12.{i}0", (60, 420 + 50 * i), cv2.FONT_HERSHEY_SIMPLEX, 1, 0, 2, cv2.LINE_AA)
    turned, changed = dark_on_light(page)
    assert changed
    assert float((turned[top:bottom, left:940] < 100).mean()) < 0.2  # the bar is light now, its words dark
    assert np.array_equal(turned[: top - 12], page[: top - 12]) and np.array_equal(
        turned[bottom + 12 :], page[bottom + 12 :]
    )
    assert float((turned[top : top + 3, left + 20 : 900] < 128).mean()) == 0.0  # no dark strip left along the edge
    boxes = detected(page)
    header = [b for b in boxes if b[1] < bottom and b[3] > top]
    assert len(header) == 3 and header[0][0] <= left + 6
    assert len(boxes) == 6
