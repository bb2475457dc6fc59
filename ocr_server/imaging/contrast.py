"""Low-contrast pages (pastel or coloured text, grey print) stretched to the full gray range before
line detection.

Why: the detector keeps a component only if part of it is far darker than its surroundings (its
hysteresis, ``Tuning.strong_c_factor``: 75 gray levels), which drops paper grain and keeps print.
Text whose luminance is close to its ground never gets there: on rendered slides, yellow on white,
blue on black, red on blue and green on red were read as nothing at all, and mid-grey on white lost
13 % of its characters, though the recognizer reads every one of those crops.  Stretching the page's
0.5-99.5 percentile range to 0-255 (one lookup table) gives that text the contrast print has.

Only pages whose range is under ``LOW_RANGE`` are touched: none of the 63 sroie-dev receipts and 149
funsd-train forms and 7 of the 500 sroie-train receipts (faded thermal prints; their line detection
F1 moved 0.898 → 0.900).  An almost flat page (range under ``FLAT_RANGE``) is left alone: stretching
it would only amplify noise.  Crops are still cut from the page as uploaded.
"""

from __future__ import annotations

import cv2
import numpy as np

LOW_RANGE = 128
FLAT_RANGE = 16
# Percentiles read on every SAMPLE-th pixel each way: the range of a page, not of one speck.
SAMPLE = 4


def _percentiles(sample: np.ndarray) -> tuple[float, float]:
    """The 0.5th and 99.5th percentile gray levels, from a histogram (no sort: this runs on every page)."""
    cumulative = np.cumsum(np.bincount(sample.ravel(), minlength=256))
    total = float(cumulative[-1])
    return float(np.searchsorted(cumulative, 0.005 * total)), float(np.searchsorted(cumulative, 0.995 * total))


def stretch_low_contrast(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """``gray`` with its 0.5-99.5 percentile range stretched to 0-255 when that range is narrow, and
    whether it was; the input itself otherwise."""
    if gray.ndim != 2 or gray.size == 0:
        return gray, False
    lo, hi = _percentiles(gray[::SAMPLE, ::SAMPLE])
    if hi - lo >= LOW_RANGE or hi - lo < FLAT_RANGE:
        return gray, False
    lut = np.clip((np.arange(256, dtype=np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    return cv2.LUT(gray, lut), True
