"""Read an uncertain line again at other widths and keep the surest reading.

Why: a CTC recognizer sees each letter through a fixed number of frames per pixel of width.  On
condensed or extended faces (scene signs, narrow receipt fonts, stretched headings) letters fall
across too few or too many frames and best-path decoding confuses neighbours (``rn``/``m``,
``5``/``6``, ``cl``/``d``).  The same crop squeezed or stretched sideways moves the letters onto
other frames; where the first reading was unsure, one of the others is often read with more
confidence, and is more often right.  This is test-time augmentation, used only where it pays:
lines read confidently are not read again.

Measured with ``crnn-en-1.6.0`` and ``make evaluate`` (lines read below the default 0.9 mean
confidence read again at 0.8× and 1.25× width, the surest kept; about one line in ten): iiit5k scene
words case-folded 5.26 → 4.72 %, funsd-val forms case-sensitive 4.66 → 4.60 %, sroie-dev receipts
case-folded 1.55 → 1.52 %.  Below 0.97 (one line in five) iiit5k reads 4.43 %, funsd-val 4.44 %, but
a noisy form page then costs a third more time.

One exception to "keep the surest": letter case.  Squeezing or stretching changes the shapes the
network tells a capital from a small letter by (``O o``, ``S s``, ``C c``), and the re-readings of
capital-only receipt lines came back as ``Total`` or ``Stat-Great Saving``.  When the first
reading is written all in capitals, the kept reading is written in capitals too.
"""

from __future__ import annotations

import cv2
import numpy as np

from .lines import MIN_WIDTH

SCALES: tuple[float, ...] = (0.8, 1.25)
"""Widths, relative to the prepared line, a line is read again at."""


def rescaled(prepared: np.ndarray, factor: float) -> np.ndarray:
    """A :func:`~ocr_server.recognition.lines.prepare_line` output squeezed or stretched sideways
    by ``factor`` (its height unchanged; at least ``MIN_WIDTH`` wide)."""
    height, width = prepared.shape
    new_width = max(MIN_WIDTH, round(width * factor))
    interp = cv2.INTER_AREA if new_width < width else cv2.INTER_LINEAR
    return cv2.resize(prepared, (new_width, height), interpolation=interp)


def all_capitals(text: str) -> bool:
    """Whether ``text`` has at least two letters and all of them are capitals."""
    letters = [c for c in text if c.isalpha() and c.lower() != c.upper()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def keep_capitals(first: str, chosen: str) -> str:
    """``chosen`` in capitals when ``first`` was read all in capitals (see the module docstring)."""
    if not all_capitals(first):
        return chosen
    # letter by letter, so the reading keeps its length (and its frames) even for ``ß``
    return "".join(up if len(up := c.upper()) == 1 else c for c in chosen)
