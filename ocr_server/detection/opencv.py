"""Classical text-line detector: adaptive threshold → connected components → lines → reading order.

This module wires the stages into one pure function and reads the operator's
:class:`~ocr_server.config.DetectionConfig`; each stage lives in its own module, with its reasoning:

* :mod:`.ink`: gray page → ink mask (adaptive threshold with hysteresis, long rules erased).
* :mod:`.components`: ink → connected components, the page's unit of length, glyphs versus marks.
* :mod:`.rows`: glyphs → lines (printed rows linked by bands, cut at wide gaps unless punctuation
  fills them, CJK full-width punctuation counted with its em cell; tall outliers split off).
* :mod:`.filters`: which groups and lines are text (credible glyphs, page-relative junk rules).
* :mod:`.boxes`: marks attached, margins added.
* :mod:`.layout`: reading order (columns of running text one after another, everything else by rows).
* :mod:`.tuning`: the internal shape constants of every stage.

Everything here is a pure function of the image and the config; the detector object holds only
settings, so one instance is safe to share between threads.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..config import DetectionConfig
from .base import Box
from .boxes import attach_marks, pad_boxes
from .components import Components, classify, find_components, group_boxes, typical_char_height
from .filters import credible_groups, filter_lines, junk_lines
from .ink import as_gray, ink_masks
from .layout import reading_blocks, reading_order
from .layout import row_order as boxes_by_rows
from .rows import bridged, group_lines, row_order
from .tuning import Tuning

# Tuning and detect_lines are used by bench/detection_eval.py; the rest are re-exported for the tests.
MIN_ENLARGEMENT = 1.25
"""A small-text page is not enlarged less than this (the pixel budget left no room worth the time)."""

__all__ = ["Components", "OpenCVLineDetector", "Tuning", "bridged", "detect_lines", "reading_order", "row_order"]


def detect_lines(gray: np.ndarray, cfg: DetectionConfig, tuning: Tuning | None = None) -> list[Box]:
    """The whole detector as one pure function: line boxes in reading order."""
    return [box for block in detect_blocks(gray, cfg, tuning) for box in block]


def _scaled_boxes(gray: np.ndarray, cfg: DetectionConfig, t: Tuning, f: float) -> list[Box]:
    """:func:`line_boxes` of the page enlarged ``f`` times (cubic), brought back to the page's pixels
    (outward: floor the starts, ceil the ends); see ``Tuning.small_unit``."""
    big = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
    height, width = gray.shape[:2]
    return [
        (int(x1 / f), int(y1 / f), min(width, int(np.ceil(x2 / f))), min(height, int(np.ceil(y2 / f))))
        for x1, y1, x2, y2 in line_boxes(big, cfg, t, upscale=False)
    ]


def line_boxes(gray: np.ndarray, cfg: DetectionConfig, t: Tuning, *, upscale: bool = True) -> list[Box]:
    """Every text line's padded box, in no particular order (each stage module explains its
    reasoning); a page of small text is read enlarged (``Tuning.small_unit``) unless ``upscale`` is
    false."""
    shape = (int(gray.shape[0]), int(gray.shape[1]))
    if min(shape) < 3:
        return []
    ink, strong = ink_masks(gray, cfg, t)
    comps = find_components(ink, strong)
    if len(comps) == 0:
        return []
    unit = typical_char_height(comps, cfg)
    if unit is None:
        return []
    if upscale and unit < t.small_unit:
        factor = min(2.0, max(1.5, t.small_target / unit), (t.max_upscaled_pixels / (shape[0] * shape[1])) ** 0.5)
        if factor >= MIN_ENLARGEMENT:
            return _scaled_boxes(gray, cfg, t, factor)
    core_mask, mark_mask = classify(comps, unit, cfg, t)
    cores = comps.subset(core_mask)
    if len(cores) == 0:
        return []
    marks = comps.subset(mark_mask)
    cores, gid = group_lines(cores, marks, shape, unit, cfg.merge_gap, t)
    credible = credible_groups(cores, gid, unit, t)
    glyph_boxes = group_boxes(cores, gid)[credible]
    lines = attach_marks(glyph_boxes, marks, t)
    junk = junk_lines(glyph_boxes, lines, np.bincount(gid)[credible], gray, ink, t)
    lines = lines[~junk]
    lines = filter_lines(lines, cfg)
    lines = pad_boxes(lines, shape, t.pad_frac)
    return [(int(a), int(b), int(c), int(d)) for a, b, c, d in lines.tolist()]


def detect_blocks(gray: np.ndarray, cfg: DetectionConfig, tuning: Tuning | None = None) -> list[list[Box]]:
    """The lines grouped in text blocks, blocks and lines in reading order, at most ``cfg.max_lines``
    lines in all (the blocks: :mod:`.layout`, ordered at the page's own scale)."""
    t = tuning or Tuning()
    boxes = line_boxes(as_gray(gray), cfg, t)
    if not boxes:
        return []
    if cfg.layout == "rows":  # the operator's choice: one block, row by row (no column search)
        return [boxes_by_rows(boxes, t.row_overlap)[: cfg.max_lines]]
    out: list[list[Box]] = []
    room = cfg.max_lines
    for block in reading_blocks(boxes, t.row_overlap, t.columns):
        if room <= 0:
            break
        out.append(block[:room])
        room -= len(out[-1])
    return out


class OpenCVLineDetector:
    """:class:`~ocr_server.detection.base.LineDetector` backed by :func:`detect_lines`; holds settings only."""

    def __init__(self, cfg: DetectionConfig, tuning: Tuning | None = None) -> None:
        self.cfg = cfg
        self.tuning = tuning or Tuning()

    def detect(self, gray: np.ndarray) -> list[Box]:
        return detect_lines(gray, self.cfg, self.tuning)

    def detect_blocks(self, gray: np.ndarray) -> list[list[Box]]:
        """:meth:`detect`'s lines grouped in text blocks (columns of running text, headings across
        them; one block for a page without columns), in reading order."""
        return detect_blocks(gray, self.cfg, self.tuning)
