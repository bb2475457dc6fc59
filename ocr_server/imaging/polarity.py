"""Light text on dark ground (slides, dark-mode screenshots, banners, table headers) made dark on light.

Why: the line detector looks for ink darker than its neighbourhood (an adaptive threshold), as
printed pages have it.  On a slide with white text on navy it found two boxes of five lines; on a
dark-mode screenshot, nothing.  The recognizer already turns each crop the right way round
(``recognition.lines.normalise_polarity``); the page has to be turned before detection.

How, without knowing the text's size: the page is cut into square cells (``CELLS`` along the long
side).  Cells with little contrast are "flat": plain ground.  Each cell's ground level is the mean
of the flat cells around it (so the inside of a bold title takes the navy around it).  A cell with
contrast holds light ink when its brightest pixel rises far above that ground while its darkest
stays near it, dark ink the other way round, whatever the stroke width against the cell size.
When there are light-ink cells, the page is split into regions of like ground (at Otsu's level of
the ground map, when the two sides differ clearly: a navy banner on white paper), and a region is
inverted, pixel for pixel, when it holds more light-ink than dark-ink cells and has plain ground
between its lines (``MIN_FLAT_SHARE``: a scanner's dithered shadow has none).  A printed page with
no light-ink cells is returned as it is: the cost there is one pass of cell statistics (about 2 ms
at 2,000 px).

Tesseract 5 guesses inversion line by line, and PaddleOCR's learned detector sees both polarities;
a classical detector needs the page turned, and a region-wise turn keeps a white page with a dark
title bar readable in both parts.
"""

from __future__ import annotations

import cv2
import numpy as np

# Cells along the page's long side: 2,000 px pages get 12 px cells, smaller than a line of text, so
# a line's cells see both its ink and its background.
CELLS = 160
MIN_CELL = 4
# A cell votes only with this much contrast (max - min gray levels): paper grain and JPEG ringing stay
# below it; any printed or rendered stroke is far above.
MIN_CONTRAST = 48
# A cell holds light ink when its brightest pixel rises above its ground this many times further than
# its darkest falls below it (and dark ink the other way round); anti-aliased edges stay near the ground.
INK_DOMINANCE = 2.0
# At least this many light-ink cells before anything is turned (a few white specks in a dark photo or
# the counter of a bold letter are not a text region).
MIN_LIGHT_CELLS = 6
# A region needs this many light-ink cells to be turned (one white speck is not text).
MIN_REGION_VOTES = 2
# Grounds split into regions only where they differ by this much (a navy banner on white paper).
MIN_GROUND_GAP = 48
# Ground level: from the flat cells in a window this many cells wide (odd), wider than a bold title.
GROUND_CELLS = 9
# Enclosed specks of light ground this small inside a turned region are turned with it (letter insides).
MAX_HOLE_CELLS = 4
# A text region has plain ground between its lines and around them: at least this share of its cells
# is flat (contrast under MIN_CONTRAST / 2).  A scanner's dithered shadow along a page edge is dark
# with light specks in every cell and never flat, so it is left alone.
MIN_FLAT_SHARE = 0.2


def _cell_stats(gray: np.ndarray, cell: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cell minimum, maximum and mean of the page cropped to whole cells.

    Minimum and maximum by OpenCV's erosion and dilation anchored at the window's corner, read at
    each cell's corner: the same numbers as numpy's reductions over the cells, five times faster."""
    rows, cols = gray.shape[0] // cell, gray.shape[1] // cell
    page = gray[: rows * cell, : cols * cell]
    kernel = np.ones((cell, cell), np.uint8)
    lo = cv2.erode(page, kernel, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[::cell, ::cell]
    hi = cv2.dilate(page, kernel, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[::cell, ::cell]
    mean = cv2.resize(page, (cols, rows), interpolation=cv2.INTER_AREA)
    return lo.astype(np.float32), hi.astype(np.float32), mean.astype(np.float32)


def _ground(mean: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Each cell's ground level: a flat cell's own mean; for the others, the mean of the flat cells
    around them (``GROUND_CELLS`` wide), so the inside of a bold white title takes the navy around
    it; cells with no flat cell near fall back to the median of the cell means around them."""
    weight = cv2.boxFilter(flat.astype(np.float32), -1, (GROUND_CELLS, GROUND_CELLS), normalize=False)
    total = cv2.boxFilter(mean * flat, -1, (GROUND_CELLS, GROUND_CELLS), normalize=False)
    fallback = cv2.medianBlur(np.clip(mean, 0, 255).astype(np.uint8), 5).astype(np.float32)
    around = np.where(weight > 0, total / np.maximum(weight, 1e-6), fallback)
    return np.where(flat > 0, mean, around)  # a flat cell is its own ground: sharp edges between grounds


def _regions(ground: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected regions of like ground: the cells split at Otsu's level of the ground map when the
    two sides differ by ``MIN_GROUND_GAP`` (a dark banner on a white page), else one region."""
    levels = np.clip(ground, 0, 255).astype(np.uint8)
    level, _ = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    darker = levels <= level
    if darker.all() or not darker.any() or float(ground[~darker].mean() - ground[darker].mean()) < MIN_GROUND_GAP:
        return 1, np.zeros(ground.shape, np.int32)
    n_dark, dark_labels = cv2.connectedComponents(darker.astype(np.uint8), connectivity=4)
    n_light, light_labels = cv2.connectedComponents((~darker).astype(np.uint8), connectivity=4)
    labels = np.where(darker, dark_labels - 1, light_labels - 1 + (n_dark - 1))
    return (n_dark - 1) + (n_light - 1), labels.astype(np.int32)


def _fill_small_holes(grid: np.ndarray) -> np.ndarray:
    """Add to the chosen cells the enclosed specks of at most ``MAX_HOLE_CELLS`` cells: the insides of
    a bold white letter are flat and light, their own ground, but belong to the dark region around
    them.  A white field or card inside a dark screen is far larger and keeps its own polarity."""
    _, holes, stats, _ = cv2.connectedComponentsWithStats(1 - grid, connectivity=4)
    rows, cols = grid.shape
    x, y, w, h, area = (stats[:, i] for i in range(5))
    inner = (x > 0) & (y > 0) & (x + w < cols) & (y + h < rows) & (area <= MAX_HOLE_CELLS)
    inner[0] = False  # label 0: the chosen cells themselves
    return np.where(inner[holes] & (grid == 0), 1, grid).astype(np.uint8)


def light_ink_regions(gray: np.ndarray) -> np.ndarray | None:
    """Boolean mask, the page's shape, of the regions whose text is lighter than its ground (whole
    cells); ``None`` when there are none."""
    if gray.ndim != 2 or min(gray.shape) < 2 * MIN_CELL * GROUND_CELLS:
        return None
    cell = max(MIN_CELL, round(max(gray.shape) / CELLS))
    lo, hi, mean = _cell_stats(gray, cell)
    contrast = hi - lo
    flat = contrast < MIN_CONTRAST / 2
    ground = _ground(mean, flat.astype(np.float32))
    above, below = hi - ground, ground - lo  # how far the cell's ink reaches above and below its ground
    voting = contrast >= MIN_CONTRAST
    light = voting & (above >= MIN_CONTRAST) & (above > INK_DOMINANCE * below)
    if int(light.sum()) < MIN_LIGHT_CELLS:
        return None
    dark = voting & (below >= MIN_CONTRAST) & (below > INK_DOMINANCE * above)
    count, labels = _regions(ground)
    light_votes = np.bincount(labels[light], minlength=count)
    dark_votes = np.bincount(labels[dark], minlength=count)
    flat_cells = np.bincount(labels[flat], minlength=count)
    size = np.bincount(labels.ravel(), minlength=count)
    chosen = (light_votes >= MIN_REGION_VOTES) & (light_votes > dark_votes) & (flat_cells >= MIN_FLAT_SHARE * size)
    if not chosen.any():
        return None
    grid = _fill_small_holes(chosen[labels].astype(np.uint8))
    rows, cols = grid.shape
    mask = cv2.resize(grid, (cols * cell, rows * cell), interpolation=cv2.INTER_NEAREST)
    # the page's last partial row and column of cells follow their neighbours
    pad_bottom, pad_right = gray.shape[0] - rows * cell, gray.shape[1] - cols * cell
    mask = cv2.copyMakeBorder(mask, 0, pad_bottom, 0, pad_right, cv2.BORDER_REPLICATE)
    if not grid.all():  # a region's edge runs across cells: follow it to the pixel
        level = (float(np.median(ground[chosen[labels]])) + float(np.median(ground[~chosen[labels]]))) / 2.0
        mask = _to_the_edge(gray, mask, cell, level)
    return mask.astype(bool)


def _to_the_edge(gray: np.ndarray, mask: np.ndarray, cell: int, level: float) -> np.ndarray:
    """Grow the cell-wise ``mask`` by the dark ground it leaves out along its edge, pixel by pixel.

    Cells that straddle a title bar's edge keep a strip of its dark ground outside the mask; after
    the turn that strip is a dark rule hugging the bar's text, and letters touching it went with it
    (a bold table header read ``ets Lookin arters`` for ``Sets Looking Quarters``).  Within one cell
    of the mask, the pixels darker than ``level`` (halfway between the two grounds) that connect to
    the mask's own dark ground are added; the white page, and dark text that a white gap keeps apart
    from the bar, are not."""
    band = cv2.dilate(mask, np.ones((2 * cell + 1, 2 * cell + 1), np.uint8)).astype(bool)
    darkish = (gray <= level) & band
    _, labels = cv2.connectedComponents(darkish.astype(np.uint8), connectivity=8)
    inside = np.unique(labels[darkish & mask.astype(bool)])
    grown = np.isin(labels, inside[inside > 0]) & darkish
    return mask.astype(bool) | grown


def dark_on_light(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """``gray`` with its light-text regions inverted, and whether any were; the input when none."""
    mask = light_ink_regions(gray)
    if mask is None:
        return gray, False
    out = gray.copy()
    out[mask] = 255 - out[mask]
    return out, True
