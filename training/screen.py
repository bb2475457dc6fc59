"""Screenshot-like lines: text drawn natively at UI sizes, the way a screen capture holds it.

Why a style of its own: a screenshot's text is rasterised by the font engine at 9-16 px (hinted,
anti-aliased), not printed large and photographed or scanned small, so its strokes sit on whole
pixels with grey edges that no downscaled rendering shows.  Measured on ``crnn-en-1.3.0`` (trained
without this style), held-out fonts, case-sensitive CER: 0.2 % at 22-44 px, 0.6 % at 15-16 px,
1.6 % at 11-12 px, 4.9 % at 9-10 px.  Shared by both profiles: the English stream draws with
``render_line``, the Chinese one with ``render_zh_line``; both finish with :func:`screen_look`.
"""

from __future__ import annotations

import random

import cv2
import numpy as np

EN_SCREEN_SIZES = (9, 16)  # Latin UI text: 12-13 px is the common body size, 9-11 px small print
INVERT_P = 0.3  # dark-mode themes and light-on-dark bars
JPEG_P = 0.3  # screenshots shared through chat or the web are often re-encoded


def screen_look(img: np.ndarray, rng: random.Random) -> np.ndarray:
    """Either polarity, sometimes JPEG-compressed; no scan or photo degradations (uint8 gray)."""
    if rng.random() < INVERT_P:
        img = 255 - img
    if rng.random() < JPEG_P:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(40, 90)])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return img
