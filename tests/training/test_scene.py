"""Scene-text samples: deterministic for a seed, the word is inside the crop, gray uint8 out."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.needs import missing
from training.fonts import discover_fonts, split_fonts
from training.scene import render_scene, scene_text


@pytest.fixture(autouse=True, scope="module")
def _fonts_installed() -> None:
    """The renderer needs the Debian font packages; skips without them, fails under CI=true."""
    if not discover_fonts():
        missing("no fonts installed: `make setup-apt` (requirements/apt.txt)")


def _font():
    train, _ = split_fonts()
    return next((f for f in train if f.path.name == "DejaVuSans.ttf"), train[0])


def test_same_seed_same_pixels() -> None:
    font = _font()
    a = render_scene("EXIT", font.path, random.Random(11))
    b = render_scene("EXIT", font.path, random.Random(11))
    assert np.array_equal(a, b)
    assert a.dtype == np.uint8 and a.ndim == 2


def test_word_is_tightly_cropped_and_visible() -> None:
    """Crops are word-sized (wider than tall for a long word) and the letters differ from the
    background: the luminance contrast between text and background is never zero."""
    font = _font()
    rng = random.Random(0)
    for _ in range(40):
        img = render_scene("Restaurant", font.path, rng, size=40)
        assert 10 <= img.shape[0] <= 3 * 40
        assert img.shape[1] > 2 * img.shape[0]
        assert int(img.max()) - int(img.min()) >= 30


def test_scene_text_is_seeded_and_word_like() -> None:
    a = [scene_text(random.Random(5)) for _ in range(20)]
    assert a == [scene_text(random.Random(5)) for _ in range(20)]
    words = [scene_text(random.Random(i)) for i in range(200)]
    assert sum(len(w.split()) == 1 for w in words) > 120
    assert any(w.isupper() for w in words) and any(w.islower() for w in words) and any(w.istitle() for w in words)


def test_scene_words_follow_real_frequency() -> None:
    """Signs say "the", "of", "to" far more often than a uniform draw from the dictionary would
    (1 in ~100k each): about half the scene words come by wordfreq's frequencies."""
    from training.text_sources import frequent_words

    words, cum = frequent_words()
    assert len(words) > 10000 and words[0] == "the" and all(w.isalpha() for w in words)
    assert list(cum) == sorted(cum)
    rng = random.Random(0)
    drawn = [w.lower() for _ in range(3000) for w in scene_text(rng).split()]
    common = sum(w in {"the", "of", "to", "and", "a", "in", "is", "for"} for w in drawn)
    assert common >= 60, common  # a uniform dictionary draw gives ~0
    assert sum(len(w) <= 3 for w in drawn if w.isalpha()) >= 0.07 * len(drawn)  # the dictionary: ~0.02
