"""Irregularly cased words are recased when the network found the consistent casing almost as likely;
confident camel case, regular words, digits and the line's length stay as read."""

from __future__ import annotations

import numpy as np

from ocr_server.recognition.casing import consistent_case
from ocr_server.recognition.charset import Charset
from ocr_server.recognition.ctc import greedy_decode, greedy_frames

CHARSET = Charset.default()


def probs_for(text: str, sure: dict[int, float] | None = None, default: float = 0.9) -> np.ndarray:
    """One frame per character (blank frames between), the read character at ``p`` and its other
    case at ``1 - p`` (``sure`` gives ``p`` per position, else ``default``)."""
    rows = []
    for i, ch in enumerate(text):
        row = np.full(CHARSET.num_classes, 1e-6)
        p = (sure or {}).get(i, default)
        row[CHARSET.index_of(ch)] = p
        other = CHARSET.index_of(ch.swapcase())
        if other is not None and ch.swapcase() != ch:
            row[other] = 1 - p
        rows.append(row / row.sum())
        blank = np.full(CHARSET.num_classes, 1e-6)
        blank[CHARSET.blank] = 1.0
        rows.append(blank / blank.sum())
    return np.array(rows)


def read(probs: np.ndarray) -> str:
    text, _ = greedy_decode(probs, CHARSET)
    return consistent_case(text, probs, greedy_frames(probs, CHARSET), CHARSET)


def test_close_calls_in_a_mixed_word_take_the_likeliest_consistent_case() -> None:
    text = "Uk dAYtOnA 50,358"
    close = {text.index(c, 3): 0.55 for c in "AYOA"} | {8: 0.55, 9: 0.55}  # the capitals were coin flips
    probs = probs_for(text, close)
    assert greedy_decode(probs, CHARSET)[0] == text
    assert read(probs) == "Uk daytona 50,358"


def test_a_confident_camel_case_word_stays() -> None:
    assert read(probs_for("my iPhone and McDonald", {4: 0.97, 13: 0.97})) == "my iPhone and McDonald"


def test_title_case_wins_when_that_is_what_the_letters_say() -> None:
    # S and U both read upper; U was a close call, the rest confident: Title changes one close call
    probs = probs_for("SUndaY", {0: 0.95, 1: 0.55, 5: 0.55})
    assert read(probs) == "Sunday"


def test_regular_words_digits_and_length_never_change() -> None:
    for text in ("TOTAL 12.50", "Total due", "total", "A4 3M x", "RM 34.80 Dr. HALE", ""):
        probs = probs_for(text, default=0.51) if text else np.zeros((0, CHARSET.num_classes))
        out = read(probs)
        assert out == text and len(out) == len(text)


def test_without_one_frame_per_character_the_text_is_kept() -> None:
    probs = probs_for("dAYtOnA", default=0.5)
    assert consistent_case("dAYtOnA", probs, (), CHARSET) == "dAYtOnA"


def test_the_server_passes_the_switch_to_every_recognizer_it_loads() -> None:
    """``recognition.consistentCase`` reaches the recognizer loader (on by default, off when set)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ocr_server"))
    from server_support import TinyRecognizer

    from ocr_server.app import create_app
    from ocr_server.config import parse_config

    for section, expected in (({}, True), ({"consistentCase": False}, False)):
        seen: list[bool] = []

        def loader(*_args: object, seen: list[bool] = seen, **kwargs: object) -> TinyRecognizer:
            seen.append(bool(kwargs["consistent_case"]))
            return TinyRecognizer()

        create_app(parse_config({"recognition": section}), load_model="sync", recognizer_loader=loader)
        assert seen == [expected]
