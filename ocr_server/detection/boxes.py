"""Finishing line boxes: marks attached, margins added (reading order: :mod:`.layout`).

The boxes come in as the union boxes of each line's glyphs; what is done here only grows and orders
them, so it never changes which lines were found.
"""

from __future__ import annotations

import numpy as np

from .components import Components
from .tuning import Tuning

# Marks per block in :func:`attach_marks` (bounds its matrices to MARK_BLOCK x lines elements).
MARK_BLOCK = 512


def attach_marks(lines: np.ndarray, marks: Components, t: Tuning, max_passes: int = 64) -> np.ndarray:
    """Grow line boxes by the marks (dots, commas, hyphens) that belong to them; drop the rest.

    A mark belongs to a line when its centre lies within the line's height and it is at most
    ``attach_gap`` line heights beside the line as grown so far (the nearest line wins).  Repeating
    this lets a run of dot leaders (``TOTAL ........ RM``, which receipts' ground truth keeps as
    text) chain along its line, while a dotted separator row, between lines, attaches to none.
    """
    if len(marks) == 0 or lines.shape[0] == 0:
        return lines
    ly1, ly2 = lines[:, 1][None, :], lines[:, 3][None, :]
    lh = ly2 - ly1
    reach = t.attach_gap * lh
    myc = ((marks.y1 + marks.y2) / 2.0)[:, None]
    slack = t.attach_slack * lh  # a full stop's centre sits on the baseline, a hair below the box
    inside = (myc >= ly1 - slack) & (myc <= ly2 + slack)
    cand = np.flatnonzero(inside.any(axis=1))
    inside = inside[cand]
    mx1, my1, mx2, my2 = marks.x1[cand], marks.y1[cand], marks.x2[cand], marks.y2[cand]
    out = lines.copy()
    pending = np.ones(len(cand), bool)
    for _ in range(max_passes):
        idx = np.flatnonzero(pending)
        if idx.size == 0:
            break
        # marks x lines matrices, a block of marks at a time: a noisy page has ~10,000 marks and
        # ~1,000 lines, and the whole matrices at once cost over 400 MB.  Every block sees the boxes
        # as they were at the start of the pass, so the result is the same as in one go.
        picked = [
            _nearest_lines(out, inside, reach, mx1, mx2, idx[i : i + MARK_BLOCK])
            for i in range(0, idx.size, MARK_BLOCK)
        ]
        sel = np.concatenate([p[0] for p in picked])
        tgt = np.concatenate([p[1] for p in picked])
        if sel.size == 0:
            break
        np.minimum.at(out[:, 0], tgt, mx1[sel])
        np.minimum.at(out[:, 1], tgt, my1[sel])
        np.maximum.at(out[:, 2], tgt, mx2[sel])
        np.maximum.at(out[:, 3], tgt, my2[sel])
        pending[sel] = False
    return out


def _nearest_lines(
    out: np.ndarray, inside: np.ndarray, reach: np.ndarray, mx1: np.ndarray, mx2: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For the marks ``idx``: those within reach of a line (``sel``) and their nearest line (``tgt``)."""
    dist = np.maximum(0, np.maximum(out[:, 0][None, :] - mx2[idx, None], mx1[idx, None] - out[:, 2][None, :]))
    ok = inside[idx] & (dist <= reach)
    best = np.argmin(np.where(ok, dist, np.iinfo(np.int64).max), axis=1)
    has = ok[np.arange(idx.size), best]
    return idx[has], best[has]


def pad_boxes(lines: np.ndarray, shape: tuple[int, int], frac: float) -> np.ndarray:
    """Grow boxes by ``frac`` × their height on every side, clipped to the image: the recognizer
    (and the ground truth) want a little white around the ink."""
    height, width = shape
    pad = np.round((lines[:, 3] - lines[:, 1]) * frac).astype(np.int64)
    out = lines.copy()
    out[:, 0] = np.maximum(0, lines[:, 0] - pad)
    out[:, 1] = np.maximum(0, lines[:, 1] - pad)
    out[:, 2] = np.minimum(width, lines[:, 2] + pad)
    out[:, 3] = np.minimum(height, lines[:, 3] + pad)
    return out
