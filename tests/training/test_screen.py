"""Screenshot-like lines (training/screen.py): drawn natively at UI sizes in the English stream, the
held-out evaluation set the same way, and the shared finishing touch (polarity, JPEG) seeded."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ocr_server.recognition.charset import Charset
from tests.needs import missing
from training.datasets import LineStream, MixConfig
from training.evaluate import heldout_screen
from training.fonts import discover_fonts, split_fonts
from training.render import render_line
from training.screen import EN_SCREEN_SIZES, screen_look


@pytest.fixture(autouse=True, scope="module")
def _fonts_installed() -> None:
    if not discover_fonts():
        missing("no fonts installed: `make setup-apt` (requirements/apt.txt)")


def _stream(**mix: float) -> LineStream:
    train, _ = split_fonts()
    return LineStream(Charset.default(), train, [], ("TOTAL 12.50",), MixConfig(real_share=0.0, **mix), seed=5)


def _first(stream: LineStream, n: int) -> list[tuple[np.ndarray, str, bool]]:
    it = iter(stream)
    return [next(it) for _ in range(n)]


def test_screen_lines_are_drawn_at_ui_sizes_in_either_polarity() -> None:
    samples = _first(_stream(scene_share=0.0, screen_share=1.0), 60)
    assert all(text and not blind for _, text, blind in samples)
    # a 9-16 px font gives a crop at most about twice its size tall (margins); documents start at 22 px
    assert max(img.shape[0] for img, _, _ in samples) <= 2 * EN_SCREEN_SIZES[1]
    dark = sum(float(np.median(img)) < 128 for img, _, _ in samples)
    assert 5 <= dark <= 35  # about 30 % light on dark


def test_without_the_style_no_sample_is_screen_sized() -> None:
    samples = _first(_stream(scene_share=0.0, screen_share=0.0), 60)
    assert min(img.shape[0] for img, _, _ in samples) > EN_SCREEN_SIZES[1]


def test_screen_look_is_seeded_and_keeps_the_shape() -> None:
    img = render_line("Save changes?", split_fonts()[0][0].path, random.Random(1), size=12)
    a, b = screen_look(img, random.Random(3)), screen_look(img, random.Random(3))
    assert np.array_equal(a, b) and a.shape == img.shape and a.dtype == np.uint8
    inverted = sum(float(screen_look(img, random.Random(s)).mean()) < 128 for s in range(200))
    assert 30 <= inverted <= 90  # INVERT_P = 0.3


def test_heldout_screen_set_is_fixed_small_and_in_held_out_fonts() -> None:
    a, b = heldout_screen(40), heldout_screen(40)
    assert [t for _, t in a] == [t for _, t in b]
    assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(a, b, strict=True))
    assert len(a) == 40 and all(text.isascii() and text == " ".join(text.split()) for _, text in a)
    assert max(img.shape[0] for img, _ in a) <= 32


def test_rendered_sets_are_written_for_the_peers_bench(tmp_path) -> None:
    import json

    import cv2

    from training.evaluate import write_rendered_sets

    folders = write_rendered_sets(tmp_path, 3)
    assert [f.name for f in folders] == ["unseen-fonts", "screenshot-like"]
    rows = [json.loads(x) for x in (tmp_path / "screenshot-like" / "manifest.jsonl").read_text().splitlines()]
    for row, (img, text) in zip(rows, heldout_screen(3), strict=True):
        assert row["text"] == text
        assert np.array_equal(cv2.imread(str(tmp_path / "screenshot-like" / row["image"]), cv2.IMREAD_GRAYSCALE), img)
