"""First stage of the OpenCV line detector: a grayscale page in, an ink mask out.

Why this shape:

* **Adaptive threshold** (not Otsu) because receipts are unevenly lit photos and thermal prints that
  fade towards the edges; a local threshold keeps faint text.  With **hysteresis**: a component counts
  only if part of it is much darker than its surroundings, which drops paper grain (strongly amplified
  by CLAHE) while keeping whole characters.  Long straight **rules are erased** first, so a table
  line touching the text cannot weld rows together.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..config import DetectionConfig
from .tuning import Tuning


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


def ink_masks(gray: np.ndarray, cfg: DetectionConfig, t: Tuning) -> tuple[np.ndarray, np.ndarray | None]:
    """``(ink, strong)`` of a gray page at least 3 pixels each way: the weak ink mask with rules erased,
    and the strict mask for hysteresis (``None`` when ``strong_c_factor`` turns it off).

    The threshold block is capped by the page size, since OpenCV needs it odd and inside the image.
    """
    block = min(cfg.adaptive_block_size, (min(gray.shape) // 2) * 2 + 1)
    binary = binarize(gray, max(3, block), cfg.adaptive_c)
    strong = binarize(gray, max(3, block), cfg.adaptive_c * t.strong_c_factor) if t.strong_c_factor > 1 else None
    ink = erase_rules(binary, t.rule_frac) if t.rule_frac > 0 else binary
    return ink, strong
