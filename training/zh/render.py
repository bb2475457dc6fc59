"""Draw one Chinese (or mixed) text line in a face; the degradations are ``training.render``'s.

Height normalisation differs from the Latin renderer: CJK glyphs have no ascenders or descenders,
so the line's vertical extent is taken from the face's own em box (the extent of a reference
hanzi, 国, around the baseline) united with the ink.  A line of digits or of low signs (一、。…)
then keeps its place and size inside the crop, as it does in a real document line, instead of
being stretched to the full height.  A share of lines is cropped tight to the ink instead, as a
line detector may crop them.  Fonts are cached per (file, face, size): opening a 20 MB Noto CJK
collection costs milliseconds that a line cannot afford.
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .fonts import Face

REFERENCE_GLYPH = "国"
SIZES = (24, 48)
TIGHT_SHARE = 0.25
CJK_OUTLINE_DIV = 32  # outlined signage: at most size/32 px, or the outline fills a hanzi's strokes in


def random_piece(text: str, rng: random.Random, sizes: tuple[int, int]) -> str:
    """A run of ``sizes[0]``-``sizes[1]`` consecutive characters of ``text`` (all of it when shorter):
    what a sign or label holds.  The training stream and the photo-like evaluation set both cut with it."""
    k = rng.randint(*sizes)
    start = rng.randrange(max(1, len(text) - k + 1))
    return text[start : start + k]


@lru_cache(maxsize=1024)
def _font(path: Path, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size, index=index)


def render_zh_line(text: str, face: Face, rng: random.Random, size: int | None = None) -> np.ndarray:
    """Dark text on a light background (uint8 gray), cropped around the em box with random margins."""
    size = size or rng.randint(*SIZES)
    font = _font(face.path, face.index, size)
    tracking = 0.0
    if rng.random() < 0.2:  # letter-spaced headings and form labels: 发 票 代 码
        tracking = size * rng.choice([0.1, 0.25, 0.5, 1.0])
    _, ref_top, _, ref_bottom = font.getbbox(REFERENCE_GLYPH, anchor="ls")
    advance = sum(font.getlength(ch) + tracking for ch in text) if tracking else font.getlength(text)
    pad = size
    width = int(advance) + 2 * pad
    height = (ref_bottom - ref_top) + 2 * pad
    bg = rng.randint(170, 255)
    fg = rng.randint(0, max(0, bg - 90))
    img = Image.new("L", (max(8, width), height), color=bg)
    draw = ImageDraw.Draw(img)
    baseline = pad - ref_top
    if tracking:
        x = float(pad)
        for ch in text:
            draw.text((x, baseline), ch, font=font, fill=fg, anchor="ls")
            x += font.getlength(ch) + tracking
    else:
        draw.text((pad, baseline), text, font=font, fill=fg, anchor="ls")
    arr = np.asarray(img)
    ink = np.argwhere(arr < (bg + fg) / 2)
    if len(ink) == 0:
        return arr
    (ty, tx), (by, bx) = ink.min(0), ink.max(0)
    if rng.random() < TIGHT_SHARE:
        top, bottom = ty, by
        unit = max(4, by - ty)
    else:
        top, bottom = min(ty, pad), max(by, pad + ref_bottom - ref_top)
        unit = size
    mt = int(unit * rng.uniform(0.03, 0.3))
    mb = int(unit * rng.uniform(0.03, 0.3))
    ml = int(unit * rng.uniform(0.0, 0.6))
    mr = int(unit * rng.uniform(0.0, 0.6))
    return arr[max(0, top - mt) : min(arr.shape[0], bottom + mb + 1), max(0, tx - ml) : min(arr.shape[1], bx + mr + 1)]
