"""Grouping glyphs into lines: link whole printed rows, then cut each row at its wide gaps.

Why this shape:

* **Joining through thin horizontal bands**: every character-sized component is drawn as a band
  covering only the middle of its height, stretched sideways by half the allowed gap; bands that touch
  belong to one line.  Two printed lines cannot touch this way because their middles are a full line
  pitch apart, which is what makes the detector *never merge lines vertically*, while a slight skew
  (a few degrees) only shifts neighbouring characters by a pixel or two, so skewed lines still chain.
* **Gaps split lines, unless punctuation fills them**: the ground truth of receipts (and what reads
  best) splits an item name from a price far to the right, so the allowed gap (``merge_gap`` line
  heights) is about a word space.  Bands first link whole printed rows, generously; each row is then
  cut at its wide gaps, except where marks inside a gap (``TEL: 03 - 5542``, ``ST = 0%``) leave no
  piece of it wider than a word space: a dash between two words is one line, white is two columns.
* **Outliers are not text**: a glyph much taller than its line-mates (a punch hole, a stamp,
  handwriting) is cut out of the line.
"""

from __future__ import annotations

import cv2
import numpy as np

from .components import Components, group_median
from .tuning import Tuning

# Gaps per block in :func:`bridged` (bounds its matrices to GAP_BLOCK x marks elements).
GAP_BLOCK = 256


def link_cores(cores: Components, shape: tuple[int, int], unit: float, merge_gap: float, t: Tuning) -> np.ndarray:
    """Group ids of cores: each is drawn as a thin horizontal band stretched by half the allowed gap;
    touching bands form one line (see the module docstring for why this never joins two lines)."""
    height, width = shape
    mask = np.zeros((height, width), np.uint8)
    h = cores.h.astype(np.float64)
    half = np.maximum(0.5, t.band_frac * np.minimum(h, t.band_cap * unit))
    ext = merge_gap * np.maximum(h, t.gap_floor * unit) / 2.0
    yc = (cores.y1 + cores.y2 - 1) / 2.0
    bx1 = np.clip(np.round(cores.x1 - ext), 0, width - 1).astype(np.int32)
    bx2 = np.clip(np.round(cores.x2 - 1 + ext), 0, width - 1).astype(np.int32)
    by1 = np.clip(np.round(yc - half), 0, height - 1).astype(np.int32)
    by2 = np.clip(np.round(yc + half), 0, height - 1).astype(np.int32)
    for a, b, c, d in zip(bx1.tolist(), by1.tolist(), bx2.tolist(), by2.tolist(), strict=True):
        cv2.rectangle(mask, (a, b), (c, d), 255, thickness=-1)
    _, labels = cv2.connectedComponents(mask, connectivity=4, ltype=cv2.CV_32S)
    cy = np.clip(np.round(yc), 0, height - 1).astype(np.int32)
    cx = np.clip((cores.x1 + cores.x2 - 1) // 2, 0, width - 1)
    _, gid = np.unique(labels[cy, cx], return_inverse=True)
    return gid.reshape(-1)


def row_order(cores: Components, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walk each row left to right: ``(order, run_end, reach)`` over cores sorted by (row, x1).

    ``run_end[k]`` is how far right the row's ink reaches up to the k-th sorted core and ``reach[k]``
    the sorted position of the core that reaches there, so the gap before core ``k`` is
    ``x1[k] - run_end[k - 1]`` even when earlier glyphs overlap in x.  Vectorised: offsetting each
    row's x by ``row × span`` makes one running maximum restart at every row.
    """
    n = len(cores)
    order = np.lexsort((cores.x1, rows))
    g = rows[order].astype(np.int64)
    span = int(cores.x2.max()) + 1
    key = (cores.x2[order].astype(np.int64) + g * span) * n + np.arange(n)
    best = np.maximum.accumulate(key)
    return order, best // n - g * span, best % n


def bridged(
    a: np.ndarray,
    b: np.ndarray,
    ylo: np.ndarray,
    yhi: np.ndarray,
    marks: Components,
    limit: np.ndarray,
    reach: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean per gap ``[a, b)``: do the marks inside it cut it into pieces no wider than ``limit``?
    (``reach``: how far right each mark covers, default its ink; see :func:`fillers`.)

    Why: a core-to-core gap spanning ``:``, ``-``, ``=`` or ``.`` (``TEL: 03 - 5542``, ``ST = 0%``,
    ``NO. 4``) is punctuation inside one line, not the white between two columns; its marks are too
    small to link a line themselves, but they show the gap is filled.  A mark counts when its centre
    lies inside the gap and within the vertical range ``[ylo, yhi]`` of the glyphs either side.
    """
    out = np.zeros(a.shape[0], bool)
    if a.size == 0 or len(marks) == 0:
        return out
    mcx, mcy = (marks.x1 + marks.x2) / 2.0, (marks.y1 + marks.y2) / 2.0
    right = marks.x2 if reach is None else reach
    # gaps x marks matrices a block of gaps at a time: a noise page has ~1,000 wide gaps and ~10,000
    # marks, and the whole matrix at once costs over 100 MB (as in boxes.attach_marks)
    for start in range(0, a.shape[0], GAP_BLOCK):
        sl = slice(start, start + GAP_BLOCK)
        inside = (mcx > a[sl, None]) & (mcx < b[sl, None]) & (mcy >= ylo[sl, None]) & (mcy <= yhi[sl, None])
        for j in np.flatnonzero(inside.any(axis=1)).tolist():
            i = start + j
            k = np.flatnonzero(inside[j])
            k = k[np.argsort(marks.x1[k], kind="stable")]
            ends = np.maximum.accumulate(np.r_[a[i], right[k]])
            widest = np.max(np.r_[marks.x1[k], b[i]] - ends)
            out[i] = widest <= limit[i]
    return out


def punct_sized(cores: Components, unit: float, t: Tuning) -> np.ndarray:
    """Which cores are small enough to be punctuation filling an em cell (a full-width ，、；)."""
    return cores.h < max(t.min_core_frac, t.filler_frac) * unit


def fillers(cores: Components, marks: Components, unit: float, t: Tuning) -> tuple[Components, np.ndarray]:
    """What may bridge a gap, and how far right each reaches: ``(fillers, reach)``.

    The marks, and the cores too small to make a line of their own.  Why the small cores: CJK
    full-width punctuation (，、。) is drawn large, about a third of an em, so it counts as a glyph, yet
    it sits low in its cell, below the middle band its neighbours link through, so it ends up in a row
    of its own and could not show that the gap it fills (an em of white after a ``，``) is
    punctuation inside the line.  A core shorter than ``min_core_frac`` units can never make a
    credible line alone, so letting it bridge never invents a line (``filler_frac`` raises the
    height for CJK, whose large ，can be a core of its own).

    Such a glyph, and with ``mark_cell`` every mark (the dots of a full-width ：), *reaches* to the end
    of its em cell; its box, and so its centre (which decides which gap it lies in), stay its ink.
    """
    reach = marks.x2
    if t.mark_cell > 0 and len(marks):
        reach = np.maximum(marks.x2, marks.x1 + round(t.mark_cell * unit))
    small = punct_sized(cores, unit, t)
    if t.punct_cell <= 0 or not np.any(small):
        return marks, reach
    pick = cores.subset(small)
    both = Components(
        np.r_[marks.x1, pick.x1],
        np.r_[marks.y1, pick.y1],
        np.r_[marks.x2, pick.x2],
        np.r_[marks.y2, pick.y2],
        np.r_[marks.area, pick.area],
    )
    # such a glyph fills its em cell (``punct_cell`` units wide), as in the row (split_rows)
    return both, np.r_[reach, np.maximum(pick.x2, pick.x1 + round(t.punct_cell * unit))]


def split_rows(
    cores: Components, rows: np.ndarray, marks: Components, unit: float, merge_gap: float, t: Tuning
) -> np.ndarray:
    """Group ids of lines: each row (cores linked loosely, see :func:`link_lines`) is cut at every gap
    wider than ``merge_gap`` × the height of the glyphs either side, unless marks bridge it."""
    n = len(cores)
    if n == 0:
        return np.zeros(0, np.int64)
    order, run_end, reach = row_order(cores, rows)
    g = rows[order]
    x1, y1, y2 = cores.x1[order], cores.y1[order], cores.y2[order]
    h = np.maximum(cores.h[order], t.gap_floor * unit).astype(np.float64)
    # gap i lies between the ink reaching furthest right so far (core prev[i]) and sorted core i + 1
    prev = reach[:-1]
    gap = x1[1:] - run_end[:-1]
    # after a punctuation-sized glyph (a full-width ，、；) the white of its own em cell is not a gap:
    # the glyph counts as ``punct_cell`` units wide (see :func:`fillers`)
    if t.punct_cell > 0:
        small = punct_sized(cores, unit, t)[order]
        cell = np.where(small[prev], np.maximum(0, round(t.punct_cell * unit) - cores.w[order][prev]), 0)
        gap = gap - cell
    limit = merge_gap * (h[prev] + h[1:]) / 2.0
    same_row = g[1:] == g[:-1]
    cut = ~same_row | (gap > limit)
    wide = np.flatnonzero(cut & same_row)
    if wide.size:
        left, right = prev[wide], wide + 1
        ylo, yhi = np.minimum(y1[left], y1[right]), np.maximum(y2[left], y2[right])
        fill, reach = fillers(cores, marks, unit, t)
        cut[wide] = ~bridged(run_end[wide], x1[right], ylo, yhi, fill, limit[wide], reach)
    gid = np.empty(n, np.int64)
    gid[order] = np.cumsum(np.r_[0, cut.astype(np.int64)])
    return gid


def link_lines(
    cores: Components, marks: Components, shape: tuple[int, int], unit: float, merge_gap: float, t: Tuning
) -> np.ndarray:
    """Group ids of lines in two steps: bands link whole printed rows (up to ``row_reach`` line heights
    apart, never across rows), then each row is cut at its wide gaps (:func:`split_rows`).

    Why two steps: whether a gap splits a line depends on what lies inside it (punctuation marks),
    which the band mask alone cannot see.
    """
    if t.row_reach <= merge_gap:
        return link_cores(cores, shape, unit, merge_gap, t)
    rows = link_cores(cores, shape, unit, t.row_reach, t)
    return split_rows(cores, rows, marks, unit, merge_gap, t)


def size_outliers(cores: Components, gid: np.ndarray, ratio: float) -> np.ndarray:
    """Cores much taller than the median core of their group: punch holes, stamps, handwriting or a
    blot that bridged into a text line.  They are split off and relinked on their own."""
    h = cores.h.astype(np.float64)
    return h > ratio * group_median(h, gid)[gid]


def group_lines(
    cores: Components, marks: Components, shape: tuple[int, int], unit: float, merge_gap: float, t: Tuning
) -> tuple[Components, np.ndarray]:
    """``(cores, gid)``: group ids of lines (:func:`link_lines`) with size outliers split off.

    Split-off outliers get a group of their own each, or with ``drop_outliers`` are removed, in which
    case the returned cores are the ones kept; the lines are linked again without them, so an outlier
    that bridged two lines leaves them apart.
    """
    gid = link_lines(cores, marks, shape, unit, merge_gap, t)
    if t.outlier_ratio > 0:
        outliers = size_outliers(cores, gid, t.outlier_ratio)
        if np.any(outliers):
            normal = link_lines(cores.subset(~outliers), marks, shape, unit, merge_gap, t)
            gid = np.empty(len(cores), np.int64)
            gid[~outliers] = normal
            gid[outliers] = normal.max(initial=-1) + 1 + np.arange(int(outliers.sum()))
            if t.drop_outliers:
                cores, gid = cores.subset(~outliers), normal
    return cores, gid
