"""Reading order of a page's line boxes: columns of running text one after another, the rest by rows.

Why not rows alone: on a two- or three-column paper, book or magazine page, rows interleave the
columns (line 1 of the left column, then line 1 of the right, ...), which turns every sentence into
nonsense in ``/api/v1/ocr``'s text, in the text/hOCR/ALTO exports and on the web page.

Why not columns wherever there is a white gutter: receipts, invoices, tables and forms are read row
by row (an item then its price, a label then its value), and their cells are separated by white
gutters too.  What tells the two apart is the text on either side of the gutter: running text fills
its column (most lines reach nearly its full width, and its lines are long for their height), cells
of a table or a form do not.  So a gutter splits a region only when *both* sides look like running
text; anything else keeps the row order exactly as :func:`row_order` gives it.

Headings, titles, figure captions and page footers that run across the gutter are handled as in a
recursive XY-cut, with the horizontal cuts made only at those spanning lines: they cut the region into
bands read top to bottom, and each band is split into its columns on its own.  Hand-written rather than
a library: the layout-analysis libraries (Tesseract's, PaddleOCR's PP-Structure, LayoutParser) either
bring a whole engine or a learned model; this is a few dozen lines over boxes the detector already has.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .base import Box


@dataclass(frozen=True)
class ColumnRule:
    """When a white vertical gutter separates columns of running text (see the module docstring)."""

    min_lines: int = 3
    """A column of running text holds at least this many lines that start at its left edge."""
    align: float = 0.5
    """Lines start at the same left edge when their starts differ by at most this many line heights."""
    min_gutter: float = 1.0
    """The white between two columns is at least this many median line heights wide (papers: about two)."""
    prose_aspect: float = 12.0
    """Running text: the median line of a column is at least this many times wider than high ..."""
    full_width: float = 0.8
    """... a line is full when it reaches this fraction of its column's width (the 75th percentile of
    its lines' widths, so that a title sharing the column's left edge does not set it) ..."""
    full_share: float = 0.65
    """... at least this share of a column's lines are full (justified or ragged-right text) ..."""
    max_pitch: float = 1.8
    """... and at least ``min_lines`` of them follow one another at most this many line heights apart
    (printed running text: about 1.2-1.5; the labels of a form sit further apart, one per field)."""
    max_crossers: float = 0.25
    """At most this share of a region's lines may run into its gutter (headings, captions, footers)."""
    max_depth: int = 12
    """Recursion bound (a page of four columns under three headings needs about six)."""


def row_order(boxes: Sequence[Box], row_overlap: float = 0.5) -> list[Box]:
    """Top to bottom by rows, left to right within a row.

    Boxes are taken by vertical centre; one joins the current row while its centre lies within
    ``row_overlap`` × the row's mean height of the row's mean centre, so segments of one printed line
    (item, quantity, price) read together even when their tops differ by a few pixels.
    """
    by_centre = sorted(boxes, key=lambda b: (b[1] + b[3], b[0]))
    rows: list[list[Box]] = []
    centre_sum = height_sum = 0.0
    for box in by_centre:
        yc, h = (box[1] + box[3]) / 2.0, float(box[3] - box[1])
        if rows:
            n = len(rows[-1])
            if abs(yc - centre_sum / n) <= row_overlap * (height_sum / n):
                rows[-1].append(box)
                centre_sum += yc
                height_sum += h
                continue
        rows.append([box])
        centre_sum, height_sum = yc, h
    return [b for row in rows for b in sorted(row, key=lambda b: b[0])]


def reading_order(boxes: Sequence[Box], row_overlap: float = 0.5, rule: ColumnRule | None = None) -> list[Box]:
    """``boxes`` in reading order: each column of running text whole before the next, else rows."""
    return [box for block in reading_blocks(boxes, row_overlap, rule) for box in block]


def reading_blocks(boxes: Sequence[Box], row_overlap: float = 0.5, rule: ColumnRule | None = None) -> list[list[Box]]:
    """``boxes`` as text blocks, blocks and the lines in each in reading order: a page without
    columns of running text is one block; with them, each column of each band is one, and so is
    a title or a heading across the columns (what hOCR's ``ocr_carea`` and ALTO's ``TextBlock`` hold)."""
    return [block for block in _order(list(boxes), row_overlap, rule or ColumnRule(), 0) if block]


def _order(boxes: list[Box], row_overlap: float, rule: ColumnRule, depth: int) -> list[list[Box]]:
    """Split ``boxes`` at the leftmost gutter between two columns of running text and order each
    side on its own, as blocks; without such a gutter, one block in exactly :func:`row_order`'s
    order (so pages without columns of running text never change)."""
    if depth >= rule.max_depth or len(boxes) < 2 * rule.min_lines:
        return [row_order(boxes, row_overlap)]
    arr = np.asarray(boxes, dtype=np.int64)
    height = float(np.median(arr[:, 3] - arr[:, 1]))
    gutter = _gutter(arr, height, rule)
    if gutter is None:
        return [row_order(boxes, row_overlap)]
    lo, hi, top, bottom = gutter
    centre = (arr[:, 1] + arr[:, 3]) / 2.0
    head, tail = centre < top, centre > bottom
    out = _order([boxes[i] for i in np.flatnonzero(head)], row_overlap, rule, depth + 1)
    body = np.flatnonzero(~(head | tail))
    middle, mid = [boxes[i] for i in body], arr[body]
    cross = ~((mid[:, 2] <= lo) | (mid[:, 0] >= hi))
    for segment, is_band in _bands(middle, mid, cross):
        if not is_band:
            out.append(row_order(segment, row_overlap))
            continue
        seg = np.asarray(segment, dtype=np.int64)
        for side in (seg[:, 2] <= lo, seg[:, 0] >= hi):
            part = [segment[i] for i in np.flatnonzero(side)]
            out += _order(part, row_overlap, rule, depth + 1)
    return out + _order([boxes[i] for i in np.flatnonzero(tail)], row_overlap, rule, depth + 1)


def _gutter(arr: np.ndarray, height: float, rule: ColumnRule) -> tuple[int, int, float, float] | None:
    """``(lo, hi, top, bottom)``: the white stripe ``[lo, hi)`` before the second column of running
    text (from the left) when a column of running text ends left of it and few lines run into it,
    and the span of the columns' lines from ``top`` to ``bottom`` (what lies above or below them, a
    title or a page number, is read before or after them); else None.

    Columns are found by their left edges, which running text shares line after line; a line that
    pokes into the stripe (a heading across the columns, a caption) is one of the *crossers*."""
    tol = rule.align * height
    gap = rule.min_gutter * height
    columns = _text_columns(arr, tol, rule)
    for k, (start, _, _, _) in enumerate(columns[1:], 1):
        hi = int(start - tol)
        lo = int(start - gap)
        if not any(right <= lo for _, right, _, _ in columns[:k]):
            continue
        top = min(c[2] for c in columns)
        bottom = max(c[3] for c in columns)
        centre = (arr[:, 1] + arr[:, 3]) / 2.0
        inside = (centre >= top) & (centre <= bottom)
        cross = inside & (arr[:, 2] > lo) & (arr[:, 0] < hi)
        if cross.sum() <= rule.max_crossers * inside.sum():
            return lo, hi, top, bottom
    return None


def _text_columns(arr: np.ndarray, tol: float, rule: ColumnRule) -> list[tuple[float, int, float, float]]:
    """``(left edge, right edge, top, bottom)`` of each column of running text, left to right: at
    least ``min_lines`` lines that start within ``tol`` of one another and read as running text
    (top and bottom: the first and last of those lines' vertical centres)."""
    order = np.argsort(arr[:, 0], kind="stable")
    x1 = arr[order, 0]
    ends = np.searchsorted(x1, x1 + tol, side="right")  # the window of lines starting within tol of each
    found: list[tuple[float, int, float, float]] = []
    i = 0
    while i < len(order):
        members = arr[order[i : ends[i]]]
        if len(members) >= rule.min_lines and _running_text(members, rule):
            start, right = float(np.median(members[:, 0])), int(np.median(members[:, 2]))
            top, bottom = _vertical_span(arr, members, start - tol, int(members[:, 2].max() + tol), rule)
            found.append((start, right, top, bottom))
            i = int(ends[i])
        else:  # the next distinct left edge (a list of 1,000 items sharing one edge: one window, not 1,000)
            i = int(np.searchsorted(x1, x1[i], side="right"))
    return found


def _vertical_span(arr: np.ndarray, members: np.ndarray, x0: float, x1: int, rule: ColumnRule) -> tuple[float, float]:
    """First and last vertical centre of a column: its aligned lines, grown by the lines inside its
    x-range that follow on at line pitch (an indented first line of a paragraph at the column's
    top), but not by a page number or a caption further off."""
    centres = (members[:, 1] + members[:, 3]) / 2.0
    top, bottom = float(centres.min()), float(centres.max())
    step = rule.max_pitch * float(np.median(members[:, 3] - members[:, 1]))
    within = (arr[:, 0] >= x0) & (arr[:, 2] <= x1)
    others = np.sort((arr[within, 1] + arr[within, 3]) / 2.0)
    for c in others[::-1]:
        if top - step <= c < top:
            top = float(c)
    for c in others:
        if bottom < c <= bottom + step:
            bottom = float(c)
    return top, bottom


def _running_text(column: np.ndarray, rule: ColumnRule) -> bool:
    """Whether lines that share a left edge look like a column of running text."""
    widths = column[:, 2] - column[:, 0]
    heights = np.maximum(1, column[:, 3] - column[:, 1])
    if float(np.median(widths / heights)) < rule.prose_aspect:
        return False
    if float(np.mean(widths >= rule.full_width * np.percentile(widths, 75))) < rule.full_share:
        return False
    tops = np.sort(column[:, 1])
    close = np.diff(tops) <= rule.max_pitch * float(np.median(heights))
    return _longest_run(close) + 1 >= rule.min_lines


def _longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True in a 1-D mask."""
    best = run = 0
    for flag in mask.tolist():
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def _bands(boxes: list[Box], arr: np.ndarray, cross: np.ndarray) -> Iterator[tuple[list[Box], bool]]:
    """Cut a region at the lines that cross its gutter: ``(band, True)`` for the boxes between two
    such lines, ``(row, False)`` for a crossing line with the boxes beside it on its row."""
    crossers = np.flatnonzero(cross)
    crossers = crossers[np.argsort(arr[crossers, 1] + arr[crossers, 3], kind="stable")]
    tops, bottoms = arr[crossers, 1], arr[crossers, 3]
    centres = (tops + bottoms) / 2.0
    bands: list[list[Box]] = [[] for _ in range(len(crossers) + 1)]
    rows: list[list[Box]] = [[boxes[i]] for i in crossers]
    others = np.flatnonzero(~cross)
    yc = (arr[others, 1] + arr[others, 3]) / 2.0
    beside = (yc[:, None] >= tops[None, :]) & (yc[:, None] <= bottoms[None, :])  # on a crosser's row
    band_of = np.searchsorted(centres, yc, side="left")  # how many crossers lie above
    for n, i in enumerate(others.tolist()):
        row = np.flatnonzero(beside[n])
        (rows[int(row[0])] if row.size else bands[int(band_of[n])]).append(boxes[i])
    for k, band in enumerate(bands):
        if band:
            yield band, True
        if k < len(rows):
            yield rows[k], False
