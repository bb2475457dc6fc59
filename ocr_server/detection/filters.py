"""Which glyph groups and lines are text: credibility of a group, page-relative junk rules, config limits.

Why this shape:

* **Blobs are not text**: one or two huge shapes alone are a logo.
* **Junk is judged against the page**: a line whose shapes ink much less of their boxes than the
  page's typical glyph is handwriting or a scribble; a lone shape far fainter than the page's lines is
  show-through or a shadow; a line that marks made several times wider than its glyphs is a dashed
  separator chained onto a speck.  Relative to the page, so a page set in a light face or grey ink
  keeps its lines.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..config import DetectionConfig
from .components import Components, group_median
from .tuning import Tuning

SOLID_FILL = 0.8  # a shape inking more of its box than this is a bar or a blot, not letters


def credible_groups(cores: Components, gid: np.ndarray, unit: float, t: Tuning) -> np.ndarray:
    """Boolean per group: does it look like text rather than a row of dots, a speck or a logo?

    A line must hold a glyph of near full height; a line of one glyph needs an even taller one,
    because an isolated speck of dirt is the commonest false line on a scanned page.  One or two
    shapes several times the text height, alone, are a logo, a stamp or a punch hole: words set that
    large have more letters.  The glyphs of one printed page share a typeface and ink about the same
    fraction of their boxes; a group whose typical shape inks much less than the page's typical glyph
    (``min_glyph_fill``) is thin handwriting, a scribble or a speckle cluster.  Relative, so a page
    set in a light typeface keeps all its lines.  A lone shape much wider than tall and not solid is a
    word whose letters fused (``lone_word_aspect``): it is held to the line rule, not the speck rule.
    """
    n = int(gid.max()) + 1
    h = cores.h.astype(np.float64)
    tallest = np.zeros(n)
    np.maximum.at(tallest, gid, h)
    shortest = np.full(n, np.inf)
    np.minimum.at(shortest, gid, h)
    count = np.bincount(gid, minlength=n)
    fill = cores.area / np.maximum(1, cores.h * cores.w).astype(np.float64)
    lone = count == 1
    if t.lone_word_aspect > 0:  # a fused word, not a speck; a solid bar (fill near 1) is neither
        fused = (cores.w >= t.lone_word_aspect * cores.h) & (fill < SOLID_FILL)
        has_fused = np.zeros(n, bool)
        np.logical_or.at(has_fused, gid, fused)
        lone &= ~has_fused
    need = np.where(lone, t.lone_core_frac, t.min_core_frac) * unit
    blob = (count <= 2) & (shortest > t.blob_frac * unit) | (count == 1) & (tallest > t.lone_max_frac * unit)
    sparse = group_median(fill, gid) < t.min_glyph_fill * np.median(fill)
    return (tallest >= need) & ~blob & ~sparse


def mostly_marks(glyph_boxes: np.ndarray, grown: np.ndarray, ratio: float) -> np.ndarray:
    """Boolean per line: did attached marks make it more than ``ratio`` × as wide as its glyphs?

    Such a line is a separator row of dashes or dots chained onto one speck or blob, not text: dot
    leaders in real text (``TOTAL ....... RM``) have words at their ends and grow a line far less.
    """
    glyph_w = np.maximum(1, glyph_boxes[:, 2] - glyph_boxes[:, 0])
    return (grown[:, 2] - grown[:, 0]) > ratio * glyph_w


def faint_specks(lines: np.ndarray, glyphs: np.ndarray, gray: np.ndarray, ink: np.ndarray, ratio: float) -> np.ndarray:
    """Boolean per line: is it a single shape whose ink is much fainter than the page's typical line?

    Contrast = mean gray of the box's background minus mean gray of its ink.  A lone shape under
    ``ratio`` × the page's median contrast is show-through from the back of the sheet, a crease, a
    shadow or paper texture that the local threshold picked up.  Only lone shapes: a faint *word*
    is more likely grey print (digital receipts set labels in grey) than dirt, so it stays.
    """
    contrast = np.zeros(lines.shape[0])
    for i, (x1, y1, x2, y2) in enumerate(lines.tolist()):
        box, mask = gray[y1:y2, x1:x2], ink[y1:y2, x1:x2]
        contrast[i] = cv2.mean(box, cv2.bitwise_not(mask))[0] - cv2.mean(box, mask)[0]
    if lines.shape[0] == 0:
        return np.zeros(0, bool)
    return (glyphs == 1) & (contrast < ratio * np.median(contrast))


def junk_lines(
    glyph_boxes: np.ndarray, lines: np.ndarray, glyphs: np.ndarray, gray: np.ndarray, ink: np.ndarray, t: Tuning
) -> np.ndarray:
    """Boolean per line: a separator row grown by marks (:func:`mostly_marks`) or a faint lone shape
    (:func:`faint_specks`); each rule is off when its tuning is 0.

    ``glyph_boxes`` are the lines before marks were attached, ``lines`` after, ``glyphs`` the number of
    glyphs in each line.
    """
    junk = np.zeros(lines.shape[0], bool)
    if t.max_mark_growth > 0:
        junk |= mostly_marks(glyph_boxes, lines, t.max_mark_growth)
    if t.min_contrast > 0:
        junk |= faint_specks(lines, glyphs, gray, ink, t.min_contrast)
    return junk


def filter_lines(lines: np.ndarray, cfg: DetectionConfig) -> np.ndarray:
    """Drop lines outside the configured height range or narrower than ``min_line_width``."""
    h = lines[:, 3] - lines[:, 1]
    w = lines[:, 2] - lines[:, 0]
    ok = (h >= cfg.min_line_height) & (h <= cfg.max_line_height) & (w >= cfg.min_line_width)
    return lines[ok]
