"""Connected components of the ink mask and what they measure: the page's unit, glyphs versus marks,
per-line statistics.

Why this shape:

* **Connected components, not a fixed morphological kernel**, because one page mixes font sizes
  (a shop name twice the body height): each component is joined to its neighbours by a gap measured
  in *its own* height, so big and small text are segmented with the same rule.
* **Small marks attach, never link**: dots, commas, hyphens and specks are too small to say which line
  they belong to, so they may only join a line they sit beside (chaining along dot leaders) or fill a
  gap inside one (see :mod:`.rows`); on their own (dotted separator rows, noise) they never form a line.
* **The unit ignores dashes**: solid bars (separator rows of ``-----``) are left out of the page's
  median character height, since on a short receipt they can outnumber the glyphs.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..config import DetectionConfig
from .tuning import Tuning


@dataclass(frozen=True)
class Components:
    """Bounding boxes (exclusive ends) and ink areas of connected components, one entry per component."""

    x1: np.ndarray
    y1: np.ndarray
    x2: np.ndarray
    y2: np.ndarray
    area: np.ndarray

    @property
    def h(self) -> np.ndarray:
        return self.y2 - self.y1

    @property
    def w(self) -> np.ndarray:
        return self.x2 - self.x1

    def __len__(self) -> int:
        return int(self.x1.shape[0])

    def subset(self, mask: np.ndarray) -> Components:
        return Components(self.x1[mask], self.y1[mask], self.x2[mask], self.y2[mask], self.area[mask])


def find_components(binary: np.ndarray, strong: np.ndarray | None = None) -> Components:
    """8-connected components of the ink mask (background excluded).

    With ``strong`` (a stricter ink mask), only components holding at least one strong pixel are kept:
    hysteresis thresholding, which drops paper texture and JPEG noise (faint everywhere) but keeps
    whole characters (whose strokes have a dark core).
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8, ltype=cv2.CV_32S)
    keep = np.ones(n, bool) if strong is None else np.bincount(labels[strong > 0], minlength=n) > 0
    keep[0] = False
    s = stats[keep]
    x1, y1, w, h, area = (s[:, i] for i in range(5))
    return Components(x1, y1, x1 + w, y1 + h, area)


def typical_char_height(comps: Components, cfg: DetectionConfig) -> float | None:
    """Median height of character-like components, the page's unit of length; ``None`` if it has none.

    Character-like: within the configured height range, not much wider than tall (a run of touching
    characters still counts), inked like a glyph rather than like a frame, and not a solid bar: the
    dashes of separator rows (``-----``, wider than tall and almost fully inked) can outnumber the
    glyphs on a short receipt and would make the unit a dash's height.
    """
    h, w = comps.h, comps.w
    fill = comps.area / np.maximum(1, h * w)
    bar = (w >= 1.4 * h) & (fill >= 0.7)
    ok = (h >= cfg.min_line_height) & (h <= cfg.max_line_height) & (w <= 4 * h) & (fill >= 0.1) & ~bar
    if not np.any(ok):
        return None
    return float(np.median(h[ok]))


def classify(comps: Components, unit: float, cfg: DetectionConfig, t: Tuning) -> tuple[np.ndarray, np.ndarray]:
    """Split components into *cores* (glyphs that can link a line) and *marks* (may only attach).

    Dropped entirely: taller than the config or ``tall_frac`` units (logos, vertical rules), big and
    sparse (frames, table grids), and marks wider than ``mark_max_width`` units (separator dashes,
    underlines).
    """
    h, w = comps.h, comps.w
    fill = comps.area / np.maximum(1, h * w)
    too_tall = (h > cfg.max_line_height) | (h > t.tall_frac * unit)
    frame = (h > 2 * unit) & (w > 2 * unit) & (fill < t.frame_fill)
    keep = ~too_tall & ~frame
    flat = (h < t.flat_height * unit) & (w > t.flat_aspect * h)
    core = keep & (h >= t.small_frac * unit) & (h >= 2) & ~flat
    mark = keep & ~core & (w <= t.mark_max_width * unit) & (comps.area >= 2)
    return core, mark


def group_median(values: np.ndarray, gid: np.ndarray) -> np.ndarray:
    """Per group id ``0..G-1``, the (lower) median of ``values`` over its members (vectorised)."""
    order = np.lexsort((values, gid))
    sorted_gid = gid[order]
    starts = np.flatnonzero(np.r_[True, sorted_gid[1:] != sorted_gid[:-1]])
    counts = np.diff(np.r_[starts, len(order)])
    out = np.zeros(int(gid.max()) + 1)
    out[sorted_gid[starts]] = values[order][starts + (counts - 1) // 2]
    return out


def group_boxes(comps: Components, gid: np.ndarray) -> np.ndarray:
    """``(G, 4)`` union boxes of the components of each group id ``0..G-1``."""
    n = int(gid.max()) + 1 if gid.size else 0
    out = np.empty((n, 4), np.int64)
    out[:, 0:2] = np.iinfo(np.int64).max
    out[:, 2:4] = np.iinfo(np.int64).min
    np.minimum.at(out[:, 0], gid, comps.x1)
    np.minimum.at(out[:, 1], gid, comps.y1)
    np.maximum.at(out[:, 2], gid, comps.x2)
    np.maximum.at(out[:, 3], gid, comps.y2)
    return out
