"""Word boxes inside a recognised line, from the CTC frames of its characters and the crop's ink.

The CRNN emits one frame per ``width_downsample`` columns of the resized crop, and best-path
decoding says which frames carry which character (:func:`~ocr_server.recognition.ctc.greedy_frames`).
CTC spikes are narrow and may sit anywhere on the glyph, so the frames alone give good *split
points* between words (the middle of the gap between the last character of one word and the first
of the next) but poor *edges*.  The edges therefore come from the ink: within each word's span of
columns, the box is tightened to the dark pixels (Otsu on the crop, dark-on-light after
:func:`~ocr_server.recognition.lines.normalise_polarity`), limited to the line box's rows.

Without frames (a stand-in recognizer, or beam search reading something else than the best path)
the line is split in proportion to character counts.  Everything here is a pure function.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .lines import normalise_polarity, to_gray
from .recognizer import LineResult

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class OcrWord:
    """One word of a line: ``box`` is ``(x1, y1, x2, y2)``, in the same pixels as its line's box."""

    text: str
    confidence: float
    box: Box


def crop_origin(box: Box, margin: float, min_margin: int) -> tuple[int, int]:
    """Top-left of :func:`~ocr_server.recognition.lines.crop_box`'s crop of ``box`` in the page."""
    m = max(min_margin, round(margin * (box[3] - box[1])))
    return max(0, box[0] - m), max(0, box[1] - m)


def is_wide(ch: str) -> bool:
    """A character written without spaces around it: East Asian Width *Wide* or *Fullwidth* (Han,
    kana, Hangul, full-width punctuation such as ，。：（）and full-width forms)."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def word_ranges(text: str) -> list[tuple[int, int]]:
    """Character index ranges ``[start, end)`` of the words of ``text``.

    Words are what spaces separate, except that every wide character (:func:`is_wide`) is a word by
    itself, as Tesseract's ``chi_sim``/``jpn`` models segment: Chinese has no spaces, so a line of
    ``2026年11月30日 合计¥128.00`` gives ``2026 年 11 月 30 日 合 计 ¥128.00``.  Latin letters,
    digits and half-width punctuation between two wide characters stay one word.
    """
    ranges: list[tuple[int, int]] = []
    start: int | None = None
    for i, ch in enumerate(text):
        if ch.isspace() or is_wide(ch):
            if start is not None:
                ranges.append((start, i))
                start = None
            if not ch.isspace():
                ranges.append((i, i + 1))
        elif start is None:
            start = i
    if start is not None:
        ranges.append((start, len(text)))
    return ranges


def word_separators(line_text: str, words: Sequence[str]) -> list[str]:
    """What follows each of ``words`` in ``line_text``: ``" "`` where the line has white space before
    the next word, ``""`` where the next word touches it (CJK), ``""`` after the last.

    The output formats join words with this, so a Chinese line keeps its text exactly (no spaces
    invented between its characters) while an English line keeps its spaces.  Words that cannot be
    found in order in the line (a PDF's own text layer) are joined by a space, as before.
    """
    out: list[str] = []
    pos = 0
    for k, word in enumerate(words):
        found = line_text.find(word, pos) if word else -1
        if found < 0:
            return [" "] * (len(words) - 1) + ([""] if words else [])
        pos = found + len(word)
        if k == len(words) - 1:
            out.append("")
            break
        following = line_text[pos:]
        out.append(" " if following[:1].isspace() else "")
    return out


def _widest_gap(ink_cols: np.ndarray, lo: int, hi: int) -> float | None:
    """Centre of the widest run of ink-free columns in ``[lo, hi)``, or ``None`` when there is none."""
    window = ink_cols[max(0, lo) : max(0, hi)]
    if window.size == 0 or window.all():
        return None
    # runs of ink-free columns: starts where ink turns to none, ends where none turns to ink
    edges = np.diff(np.concatenate(([1], window.astype(np.int8), [1])))
    starts, ends = np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)
    k = int(np.argmax(ends - starts))  # the first of the widest, as a left-to-right scan finds
    return max(0, lo) + (int(starts[k]) + int(ends[k])) / 2.0


def _splits_from_frames(
    result: LineResult, ranges: list[tuple[int, int]], width: int, ink_cols: np.ndarray
) -> list[float]:
    """Column boundaries (crop pixels) between consecutive words.

    CTC spikes of this model sit about a frame before the glyph's centre, so the frames bound a
    window (from the spike of a word's last character to two frames past the next word's first);
    the cut is the middle of the widest ink-free run of columns in it, or the window's middle.
    """
    px = result.frame_px
    cuts = [0.0]
    for (_, end), (start, _) in itertools.pairwise(ranges):
        lo = result.frames[end - 1][0] * px
        hi = (result.frames[start][1] + 2) * px
        gap = _widest_gap(ink_cols, int(lo), int(np.ceil(hi)))
        cuts.append(gap if gap is not None else (lo + hi) / 2.0)
    cuts.append(float(width))
    return cuts


def _splits_by_count(text: str, ranges: list[tuple[int, int]], x1: float, x2: float) -> list[float]:
    """Boundaries at the middle of each gap, characters taken as equally wide across ``[x1, x2)``."""
    step = (x2 - x1) / max(1, len(text))
    cuts = [0.0]
    for (_, end), (start, _) in itertools.pairwise(ranges):
        cuts.append(x1 + step * (end + start) / 2.0)
    cuts.append(float("inf"))
    return cuts


def _ink_mask(crop: np.ndarray) -> np.ndarray:
    """Boolean ink of a crop: dark-on-light, Otsu threshold; empty when the crop is flat."""
    gray = normalise_polarity(to_gray(crop))
    if int(gray.max()) - int(gray.min()) < 16:
        return np.zeros(gray.shape, dtype=bool)
    threshold, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return gray <= threshold


def line_words(result: LineResult, crop: np.ndarray, line_box: Box, origin: tuple[int, int]) -> list[OcrWord]:
    """The words of ``result`` with boxes in the page's pixels (the page ``crop`` was cut from).

    ``line_box`` is the detected line in page pixels and ``origin`` the crop's top-left there.
    Boxes never leave the line box; a word with no ink in its span gets the span's full height.
    """
    ranges = word_ranges(result.text)
    if not ranges:
        return []
    ox, oy = origin
    lx1, ly1, lx2, ly2 = (line_box[0] - ox, line_box[1] - oy, line_box[2] - ox, line_box[3] - oy)
    h, w = crop.shape[:2]
    ink = _ink_mask(crop)
    r1, r2 = max(0, ly1), min(h, ly2)
    if result.frames and len(result.frames) == len(result.text) and result.frame_px > 0:
        cuts = _splits_from_frames(result, ranges, w, ink[r1:r2].any(axis=0))
    else:
        cuts = _splits_by_count(result.text, ranges, float(lx1), float(lx2))
    words = []
    for k, (start, end) in enumerate(ranges):
        c1 = max(lx1, int(np.floor(cuts[k])))
        c2 = min(lx2, int(np.ceil(min(cuts[k + 1], w))))
        if c2 <= c1:  # a degenerate span: give it one column at the cut
            c1, c2 = min(max(lx1, int(cuts[k])), lx2 - 1), min(max(lx1, int(cuts[k])), lx2 - 1) + 1
        x1, y1, x2, y2 = c1, r1, c2, r2
        block = ink[r1:r2, c1:c2] if r2 > r1 and c2 > c1 else np.zeros((0, 0), dtype=bool)
        if block.size and block.any():
            cols = np.flatnonzero(block.any(axis=0))
            rows = np.flatnonzero(block.any(axis=1))
            x1, x2 = c1 + int(cols[0]), c1 + int(cols[-1]) + 1
            y1, y2 = r1 + int(rows[0]), r1 + int(rows[-1]) + 1
        if result.frames and len(result.frames) == len(result.text):
            conf = float(np.mean([result.frames[i][2] for i in range(start, end)]))
        else:
            conf = result.confidence
        words.append(OcrWord(result.text[start:end], round(conf, 4), (x1 + ox, y1 + oy, x2 + ox, y2 + oy)))
    return words
