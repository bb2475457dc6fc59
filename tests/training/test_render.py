"""The synthetic renderer: deterministic for a seed, text fits inside the image."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from tests.needs import missing
from training.fonts import FONT_PACKAGES, discover_fonts, font_coverage, split_fonts
from training.render import augment, render_line
from training.text_sources import random_text
from training.zh.fonts import FONT_PACKAGES_ZH, font_files


@pytest.fixture(autouse=True, scope="module")
def _fonts_installed() -> None:
    """The renderer needs the Debian font packages; skips without them, fails under CI=true."""
    if not discover_fonts():
        missing("no fonts installed: `make setup-apt` (requirements/apt.txt)")


def _font():
    train, _ = split_fonts()
    return (
        next(f for f in train if f.path.name == "DejaVuSans.ttf")
        if any(f.path.name == "DejaVuSans.ttf" for f in train)
        else train[0]
    )


def test_fonts_are_split_by_family() -> None:
    train, held = split_fonts()
    assert len(train) >= 20 and held
    assert not {f.family for f in train} & {f.family for f in held}


def test_font_packages_are_the_ones_setup_installs() -> None:
    """The model cards list FONT_PACKAGES (English) and FONT_PACKAGES_ZH (Chinese); `make setup`
    installs requirements/apt.txt: keep them one list."""
    apt = Path(__file__).resolve().parents[2] / "requirements" / "apt.txt"
    words = {w for line in apt.read_text().splitlines() for w in line.split("#")[0].split()}
    assert {w for w in words if w.startswith("fonts-")} == set(FONT_PACKAGES) | set(FONT_PACKAGES_ZH)


def test_chinese_font_files_stay_out_of_the_english_list() -> None:
    """Installing the CJK packages must not change what the English profile trains on."""
    cjk = font_files()
    assert not {f.path for f in discover_fonts()} & cjk


def test_same_seed_same_pixels() -> None:
    font = _font()
    a = augment(render_line("Total RM 12.50", font.path, random.Random(3)), np.random.default_rng(3))
    b = augment(render_line("Total RM 12.50", font.path, random.Random(3)), np.random.default_rng(3))
    c = augment(render_line("Total RM 12.50", font.path, random.Random(4)), np.random.default_rng(4))
    assert np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_text_fits_inside_the_crop() -> None:
    """No ink touches the top or bottom border: glyphs are never cut off."""
    font = _font()
    rng = random.Random(0)
    for _ in range(30):
        text = random_text(rng, max_len=30)
        text = "".join(ch for ch in text if ch in font_coverage(font.path) or ch == " ").strip() or "Ag"
        img = render_line(text, font.path, rng, size=30)
        ink = img < (int(img.max()) + int(img.min())) / 2
        assert img.shape[0] >= 20 and img.shape[1] >= 8
        assert ink.any()
        assert not ink[0].any() or not ink[-1].any()


def test_text_generators_are_seeded() -> None:
    assert [random_text(random.Random(9)) for _ in range(3)] == [random_text(random.Random(9)) for _ in range(3)]
