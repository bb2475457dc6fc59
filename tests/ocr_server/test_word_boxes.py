"""Word boxes: CTC frame alignment (hand-made probabilities), the splitter, and the real model's boxes
measured against the exact glyph boxes of a PDF's text (bench/word_boxes.py)."""

from __future__ import annotations

import numpy as np
import pytest

from ocr_server.recognition.charset import Charset
from ocr_server.recognition.ctc import greedy_decode, greedy_frames
from ocr_server.recognition.lines import crop_box
from ocr_server.recognition.recognizer import LineResult
from ocr_server.recognition.words import crop_origin, line_words, word_ranges


def _probs(charset: Charset, path: str) -> np.ndarray:
    """One frame per character of ``path``; ``_`` is blank."""
    probs = np.full((len(path), charset.num_classes), 0.001, dtype=np.float32)
    for t, ch in enumerate(path):
        probs[t, charset.blank if ch == "_" else charset.encode(ch)[0]] = 0.9
    return probs


def test_greedy_frames_agree_with_greedy_text() -> None:
    charset = Charset.default()
    probs = _probs(charset, "_AA_B__ _CC_C_")
    text, _ = greedy_decode(probs, charset)
    frames = greedy_frames(probs, charset)
    assert text == "AB CC"  # a repeat needs a blank between: CC_C is two C
    assert len(frames) == len(text)
    assert [f[:2] for f in frames] == [(1, 2), (4, 4), (7, 7), (9, 10), (12, 12)]
    assert all(0.89 < f[2] <= 0.9 for f in frames)


def test_word_ranges() -> None:
    assert word_ranges(" ab  c d ") == [(1, 3), (5, 6), (7, 8)]
    assert word_ranges("   ") == []


def _ink_line() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    page = np.full((100, 400), 255, dtype=np.uint8)
    page[40:60, 50:120] = 0  # word 1
    page[40:60, 150:200] = 0  # word 2
    page[40:60, 230:330] = 0  # word 3
    return page, (50, 40, 330, 60)


def test_words_from_frames_are_cut_at_the_gaps_and_tight_on_the_ink() -> None:
    page, box = _ink_line()
    origin = crop_origin(box, 0.1, 2)
    crop = crop_box(page, box, 0.1, 2)
    # 10 px per frame in the crop; spikes a frame early, as the model's are
    frames = (
        (0, 0, 0.9),  # a  (ink 50-120 in page = 46-116 in the crop)
        (5, 5, 0.9),  # b
        (10, 11, 0.9),  # space
        (14, 14, 0.5),  # c  (ink 146-196 in the crop)
        (17, 17, 0.5),  # d
        (20, 21, 0.9),  # space
        (23, 23, 0.8),  # e  (ink 226-326)
    )
    result = LineResult("ab cd e", 0.8, frames, 10.0)
    words = line_words(result, crop, box, origin)
    assert [w.text for w in words] == ["ab", "cd", "e"]
    assert [w.box for w in words] == [(50, 40, 120, 60), (150, 40, 200, 60), (230, 40, 330, 60)]
    assert words[1].confidence == pytest.approx(0.5)


def test_words_without_frames_split_by_character_count() -> None:
    page, box = _ink_line()
    crop = crop_box(page, box, 0.1, 2)
    words = line_words(LineResult("aaa bb ccccc", 0.7), crop, box, crop_origin(box, 0.1, 2))
    assert [w.text for w in words] == ["aaa", "bb", "ccccc"]
    assert all(box[0] <= w.box[0] < w.box[2] <= box[2] for w in words)
    assert words[0].box[2] <= words[1].box[0] and words[1].box[2] <= words[2].box[0]
    assert all(w.confidence == 0.7 for w in words)


def test_crop_origin_matches_crop_box() -> None:
    page = np.arange(200 * 300, dtype=np.int64).reshape(200, 300)
    for box in [(0, 0, 50, 10), (100, 50, 200, 90), (290, 190, 300, 200)]:
        x, y = crop_origin(box, 0.1, 2)
        assert crop_box(page, box, 0.1, 2)[0, 0] == page[y, x]


@pytest.mark.slow
def test_real_model_word_boxes_match_pdf_glyph_boxes(require_model: None) -> None:
    from bench.word_boxes import measure

    result = measure(pages=1, seed=1, threads=1)
    assert result["words"] > 60
    # measured over 3 pages: mean IoU 0.95, 99.7 % of words at IoU >= 0.5; line boxes alone: 0.17
    assert result["mean_iou"] >= 0.85
    assert result["iou>=0.5"] >= 0.95
    assert result["line_box_mean_iou"] < 0.5
