"""Classical text-line detector: adaptive threshold → connected components → lines → reading order.

Why this shape:

* **Adaptive threshold** (not Otsu) because receipts are unevenly lit photos and thermal prints that
  fade towards the edges; a local threshold keeps faint text.  With **hysteresis**: a component counts
  only if part of it is much darker than its surroundings, which drops paper grain (strongly amplified
  by CLAHE) while keeping whole characters.  Long straight **rules are erased** first, so a table
  line touching the text cannot weld rows together.
* **Connected components, not a fixed morphological kernel**, because one page mixes font sizes
  (a shop name twice the body height): each component is joined to its neighbours by a gap measured
  in *its own* height, so big and small text are segmented with the same rule.
* **Joining through thin horizontal bands**: every character-sized component is drawn as a band
  covering only the middle of its height, stretched sideways by half the allowed gap; bands that touch
  belong to one line.  Two printed lines cannot touch this way because their middles are a full line
  pitch apart, which is what makes the detector *never merge lines vertically*, while a slight skew
  (a few degrees) only shifts neighbouring characters by a pixel or two, so skewed lines still chain.
* **Small marks attach, never link**: dots, commas, hyphens and specks are too small to say which line
  they belong to, so they may only join a line they sit beside (chaining along dot leaders) or fill a
  gap inside one (below); on their own (dotted separator rows, noise) they never form a line.
* **Outliers and blobs are not text**: a glyph much taller than its line-mates (a punch hole, a
  stamp, handwriting) is cut out of the line; one or two huge shapes alone are a logo.
* **Gaps split lines, unless punctuation fills them**: the ground truth of receipts (and what reads
  best) splits an item name from a price far to the right, so the allowed gap (``merge_gap`` line
  heights) is about a word space.  Bands first link whole printed rows, generously; each row is then
  cut at its wide gaps, except where marks inside a gap (``TEL: 03 - 5542``, ``ST = 0%``) leave no
  piece of it wider than a word space: a dash between two words is one line, white is two columns.
* **The unit ignores dashes**: solid bars (separator rows of ``-----``) are left out of the page's
  median character height, since on a short receipt they can outnumber the glyphs.
* **Junk is judged against the page**: a line whose shapes ink much less of their boxes than the
  page's typical glyph is handwriting or a scribble; a lone shape far fainter than the page's lines is
  show-through or a shadow; a line that marks made several times wider than its glyphs is a dashed
  separator chained onto a speck.  Relative to the page, so a page set in a light face or grey ink
  keeps its lines.

Everything here is a pure function of the image and the config; the detector object holds only
settings, so one instance is safe to share between threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..config import DetectionConfig
from .base import Box


@dataclass(frozen=True)
class Tuning:
    """Internal shape constants, in pipeline order, measured on sroie-train with
    ``bench/detection_eval.py --split sroie-train --tune NAME=V1,V2``.

    Lengths are ratios to the page's median character height (its *unit*), so they hold at any
    resolution; the operator-facing thresholds live in :class:`~ocr_server.config.DetectionConfig`.
    """

    # -- ink
    strong_c_factor: float = 5.0
    """Hysteresis: a component is ink only if some pixel of it beats the threshold with this × ``adaptiveC``
    (paper texture and CLAHE-amplified grain pass the weak threshold but have no dark core)."""
    rule_frac: float = 0.1
    """Straight ink runs longer than this fraction of the page width (height) are table rules and erased."""
    # -- which components are glyphs
    small_frac: float = 0.45
    """Components shorter than this many units are marks (dots, commas, hyphens, specks)."""
    flat_height: float = 0.7
    flat_aspect: float = 1.6
    """Shorter than ``flat_height`` units and wider than ``flat_aspect`` × tall: a dash or an equals bar,
    so only a mark (separator rows of thick dashes must not link into lines)."""
    tall_frac: float = 4.0
    """Components taller than this many units are logos, stamps or rules."""
    frame_fill: float = 0.15
    """Components over 2 units both ways with less ink than this fraction of their box are frames or grids."""
    # -- linking glyphs into lines
    band_frac: float = 0.22
    """Half-height of a glyph's linking band, as a fraction of its height."""
    band_cap: float = 1.5
    """Band heights are computed from at most this many units, so blobs spanning two lines can't bridge them."""
    gap_floor: float = 1.0
    """Gaps are measured in at least this many units, so lower-case words (x-height) aren't split."""
    row_reach: float = 4.0
    """Glyphs up to this many line heights apart are linked into one printed row before the row is
    cut at its wide gaps (a gap bridged by punctuation marks is not cut); at most ``merge_gap``: off."""
    outlier_ratio: float = 1.8
    """A glyph taller than this × its line's median glyph is split off the line (0 disables)."""
    drop_outliers: bool = True
    """Split-off outliers (punch holes, handwriting, blots) are dropped rather than kept as lines."""
    # -- which groups are lines
    min_core_frac: float = 0.6
    """A line needs one glyph of at least this many units (rows of dots and dashes have none)."""
    lone_core_frac: float = 0.85
    """A one-glyph line needs that glyph to be at least this many units (noise specks are shorter)."""
    lone_max_frac: float = 2.0
    """A one-glyph line taller than this many units is a blot or a stamp (a lone character is body-sized)."""
    blob_frac: float = 2.5
    """A line of at most two shapes, all taller than this many units, is a logo or a stamp."""
    min_glyph_fill: float = 0.5
    """A line whose median glyph inks less of its box than this × the page's median glyph is handwriting
    or a scribble (0 disables)."""
    # -- marks
    attach_gap: float = 0.5
    """A mark attaches to a line at most this many line heights to its left or right."""
    attach_slack: float = 0.1
    """A mark's centre may lie this many line heights above or below the line and still belong to it."""
    max_mark_growth: float = 3.0
    """A line that attached marks made wider than this × its glyphs is a separator row (0 disables)."""
    min_contrast: float = 0.6
    """A one-glyph line with less ink contrast than this × the page's median line is show-through or a
    shadow (0 disables)."""
    # -- output
    pad_frac: float = 0.12
    """Each returned box grows by this fraction of its height on every side (about the ground truth's margin)."""
    row_overlap: float = 0.5
    """Boxes share a reading-order row when their centre lies within this fraction of the row's height."""


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


def as_gray(image: np.ndarray) -> np.ndarray:
    """Validate the input and return a 2-D uint8 view (BGR/BGRA are converted, for robustness)."""
    if not isinstance(image, np.ndarray) or image.size == 0:
        raise ValueError("detect() needs a non-empty numpy image")
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = image[:, :, 0] if image.shape[2] == 1 else cv2.cvtColor(image, code)
    if image.ndim != 2:
        raise ValueError(f"detect() needs a 2-D grayscale image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"detect() needs uint8 pixels, got {image.dtype}")
    return image


def binarize(gray: np.ndarray, block_size: int, c: float) -> np.ndarray:
    """Ink = 255 on 0, by a local mean threshold (robust to uneven lighting and faded thermal print)."""
    return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block_size, c)


def erase_rules(binary: np.ndarray, frac: float) -> np.ndarray:
    """Remove long straight horizontal and vertical strokes (table rules, underlines, box edges).

    Rules that touch text would otherwise weld a whole table row, or two rows, into one component.
    A morphological opening with a long thin kernel keeps exactly those strokes; they are subtracted.
    """
    height, width = binary.shape
    kw, kh = max(15, round(frac * width)), max(15, round(frac * height))
    horiz = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (kw, 1)))
    vert = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, kh)))
    return cv2.subtract(binary, cv2.bitwise_or(horiz, vert))


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
    sparse (frames, table grids), and marks wider than a glyph (separator dashes, underlines).
    """
    h, w = comps.h, comps.w
    fill = comps.area / np.maximum(1, h * w)
    too_tall = (h > cfg.max_line_height) | (h > t.tall_frac * unit)
    frame = (h > 2 * unit) & (w > 2 * unit) & (fill < t.frame_fill)
    keep = ~too_tall & ~frame
    flat = (h < t.flat_height * unit) & (w > t.flat_aspect * h)
    core = keep & (h >= t.small_frac * unit) & (h >= 2) & ~flat
    mark = keep & ~core & (w <= 1.5 * unit) & (comps.area >= 2)
    return core, mark


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
    a: np.ndarray, b: np.ndarray, ylo: np.ndarray, yhi: np.ndarray, marks: Components, limit: np.ndarray
) -> np.ndarray:
    """Boolean per gap ``[a, b)``: do the marks inside it cut it into pieces no wider than ``limit``?

    Why: a core-to-core gap spanning ``:``, ``-``, ``=`` or ``.`` (``TEL: 03 - 5542``, ``ST = 0%``,
    ``NO. 4``) is punctuation inside one line, not the white between two columns; its marks are too
    small to link a line themselves, but they show the gap is filled.  A mark counts when its centre
    lies inside the gap and within the vertical range ``[ylo, yhi]`` of the glyphs either side.
    """
    out = np.zeros(a.shape[0], bool)
    if a.size == 0 or len(marks) == 0:
        return out
    mcx, mcy = (marks.x1 + marks.x2) / 2.0, (marks.y1 + marks.y2) / 2.0
    inside = (mcx > a[:, None]) & (mcx < b[:, None]) & (mcy >= ylo[:, None]) & (mcy <= yhi[:, None])
    for i in np.flatnonzero(inside.any(axis=1)).tolist():
        k = np.flatnonzero(inside[i])
        k = k[np.argsort(marks.x1[k], kind="stable")]
        ends = np.maximum.accumulate(np.r_[a[i], marks.x2[k]])
        widest = np.max(np.r_[marks.x1[k], b[i]] - ends)
        out[i] = widest <= limit[i]
    return out


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
    limit = merge_gap * (h[prev] + h[1:]) / 2.0
    same_row = g[1:] == g[:-1]
    cut = ~same_row | (gap > limit)
    wide = np.flatnonzero(cut & same_row)
    if wide.size:
        left, right = prev[wide], wide + 1
        ylo, yhi = np.minimum(y1[left], y1[right]), np.maximum(y2[left], y2[right])
        cut[wide] = ~bridged(run_end[wide], x1[right], ylo, yhi, marks, limit[wide])
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


def credible_groups(cores: Components, gid: np.ndarray, unit: float, t: Tuning) -> np.ndarray:
    """Boolean per group: does it look like text rather than a row of dots, a speck or a logo?

    A line must hold a glyph of near full height; a line of one glyph needs an even taller one,
    because an isolated speck of dirt is the commonest false line on a scanned page.  One or two
    shapes several times the text height, alone, are a logo, a stamp or a punch hole: words set that
    large have more letters.  The glyphs of one printed page share a typeface and ink about the same
    fraction of their boxes; a group whose typical shape inks much less than the page's typical glyph
    (``min_glyph_fill``) is thin handwriting, a scribble or a speckle cluster.  Relative, so a page
    set in a light typeface keeps all its lines.
    """
    n = int(gid.max()) + 1
    h = cores.h.astype(np.float64)
    tallest = np.zeros(n)
    np.maximum.at(tallest, gid, h)
    shortest = np.full(n, np.inf)
    np.minimum.at(shortest, gid, h)
    count = np.bincount(gid, minlength=n)
    need = np.where(count == 1, t.lone_core_frac, t.min_core_frac) * unit
    blob = (count <= 2) & (shortest > t.blob_frac * unit) | (count == 1) & (tallest > t.lone_max_frac * unit)
    fill = cores.area / np.maximum(1, cores.h * cores.w).astype(np.float64)
    sparse = group_median(fill, gid) < t.min_glyph_fill * np.median(fill)
    return (tallest >= need) & ~blob & ~sparse


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
        dist = np.maximum(0, np.maximum(out[:, 0][None, :] - mx2[idx, None], mx1[idx, None] - out[:, 2][None, :]))
        ok = inside[idx] & (dist <= reach)
        if not ok.any():
            break
        best = np.argmin(np.where(ok, dist, np.iinfo(np.int64).max), axis=1)
        has = ok[np.arange(idx.size), best]
        sel, tgt = idx[has], best[has]
        np.minimum.at(out[:, 0], tgt, mx1[sel])
        np.minimum.at(out[:, 1], tgt, my1[sel])
        np.maximum.at(out[:, 2], tgt, mx2[sel])
        np.maximum.at(out[:, 3], tgt, my2[sel])
        pending[sel] = False
    return out


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


def filter_lines(lines: np.ndarray, cfg: DetectionConfig) -> np.ndarray:
    """Drop lines outside the configured height range or narrower than ``min_line_width``."""
    h = lines[:, 3] - lines[:, 1]
    w = lines[:, 2] - lines[:, 0]
    ok = (h >= cfg.min_line_height) & (h <= cfg.max_line_height) & (w >= cfg.min_line_width)
    return lines[ok]


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


def reading_order(boxes: list[Box], row_overlap: float = 0.5) -> list[Box]:
    """Top to bottom by rows, left to right within a row.

    Boxes are taken by vertical centre; one joins the current row while its centre lies within
    ``row_overlap`` × the row's mean height of the row's mean centre, so segments of one printed line
    (item, quantity, price) read together even when their tops differ by a few pixels.
    """
    if not boxes:
        return []
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


def detect_lines(gray: np.ndarray, cfg: DetectionConfig, tuning: Tuning | None = None) -> list[Box]:
    """The whole detector as one pure function (see the module docstring for the reasoning)."""
    t = tuning or Tuning()
    gray = as_gray(gray)
    shape = (int(gray.shape[0]), int(gray.shape[1]))
    if min(shape) < 3:
        return []
    block = min(cfg.adaptive_block_size, (min(shape) // 2) * 2 + 1)
    binary = binarize(gray, max(3, block), cfg.adaptive_c)
    strong = binarize(gray, max(3, block), cfg.adaptive_c * t.strong_c_factor) if t.strong_c_factor > 1 else None
    ink = erase_rules(binary, t.rule_frac) if t.rule_frac > 0 else binary
    comps = find_components(ink, strong)
    if len(comps) == 0:
        return []
    unit = typical_char_height(comps, cfg)
    if unit is None:
        return []
    core_mask, mark_mask = classify(comps, unit, cfg, t)
    cores = comps.subset(core_mask)
    if len(cores) == 0:
        return []
    marks = comps.subset(mark_mask)
    gid = link_lines(cores, marks, shape, unit, cfg.merge_gap, t)
    if t.outlier_ratio > 0:
        outliers = size_outliers(cores, gid, t.outlier_ratio)
        if np.any(outliers):
            normal = link_lines(cores.subset(~outliers), marks, shape, unit, cfg.merge_gap, t)
            gid = np.empty(len(cores), np.int64)
            gid[~outliers] = normal
            gid[outliers] = normal.max(initial=-1) + 1 + np.arange(int(outliers.sum()))
            if t.drop_outliers:
                cores, gid = cores.subset(~outliers), normal
    credible = credible_groups(cores, gid, unit, t)
    glyph_boxes = group_boxes(cores, gid)[credible]
    lines = attach_marks(glyph_boxes, marks, t)
    junk = np.zeros(lines.shape[0], bool)
    if t.max_mark_growth > 0:
        junk |= mostly_marks(glyph_boxes, lines, t.max_mark_growth)
    if t.min_contrast > 0:
        junk |= faint_specks(lines, np.bincount(gid)[credible], gray, ink, t.min_contrast)
    lines = lines[~junk]
    lines = filter_lines(lines, cfg)
    lines = pad_boxes(lines, shape, t.pad_frac)
    boxes: list[Box] = [(int(a), int(b), int(c), int(d)) for a, b, c, d in lines.tolist()]
    return reading_order(boxes, t.row_overlap)[: cfg.max_lines]


class OpenCVLineDetector:
    """:class:`~ocr_server.detection.base.LineDetector` backed by :func:`detect_lines`; holds settings only."""

    def __init__(self, cfg: DetectionConfig, tuning: Tuning | None = None) -> None:
        self.cfg = cfg
        self.tuning = tuning or Tuning()

    def detect(self, gray: np.ndarray) -> list[Box]:
        return detect_lines(gray, self.cfg, self.tuning)
