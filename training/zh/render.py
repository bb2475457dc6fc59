"""Draw one Chinese (or mixed) text line in a face; the degradations are ``training.render``'s.

Height normalisation differs from the Latin renderer: CJK glyphs have no ascenders or descenders,
so the line's vertical extent is taken from the face's own em box (the extent of a reference
hanzi, 国, around the baseline) united with the ink.  A line of digits or of low signs (一、。…)
then keeps its place and size inside the crop, as it does in a real document line, instead of
being stretched to the full height.  A share of lines is cropped tight to the ink instead, as a
line detector may crop them.

``latin``: a Latin font for the ASCII runs of the line (letters, digits, ASCII punctuation), as
Chinese documents are typeset: the body in a CJK face, its English words and numbers in a western
one (宋体 + Times, 微软雅黑 + Calibri).  Without it every character is drawn in the CJK face, whose
Latin glyphs are few designs; a model that has only seen those misreads the Latin of an unseen
face (``target`` -> ``toroet`` with a single-storey a and g).

Fonts are cached per (file, face, size): opening a 20 MB Noto CJK collection costs milliseconds
that a line cannot afford.
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


def runs(text: str, latin_chars: frozenset[str]) -> list[tuple[str, bool]]:
    """``text`` cut into maximal runs ``(run, drawn in the Latin font)``; spaces join the run they
    are in, so a Latin phrase stays one run."""
    out: list[tuple[str, bool]] = []
    for ch in text:
        latin = ch in latin_chars if ch != " " else (out[-1][1] if out else False)
        if out and out[-1][1] == latin:
            out[-1] = (out[-1][0] + ch, latin)
        else:
            out.append((ch, latin))
    return out


LATIN_RUN_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))


def _latin_setup(
    latin: Path | None, size: int, rng: random.Random
) -> tuple[ImageFont.FreeTypeFont | None, frozenset[str]]:
    """The Latin font at about the CJK size and the characters it will draw (ASCII it covers, and
    now and then the dashes and ellipsis, which word processors also take from the western font)."""
    if latin is None:
        return None, frozenset()
    from ..fonts import font_coverage

    chars = LATIN_RUN_CHARS | (frozenset("—…") if rng.random() < 0.5 else frozenset())
    return _latin_font(latin, max(6, round(size * rng.uniform(0.9, 1.05)))), chars & font_coverage(latin)


@lru_cache(maxsize=2048)
def _latin_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """Apart from ``_font``: hundreds of small western fonts at every size would evict the CJK
    collections, which are the expensive ones to open."""
    return ImageFont.truetype(str(path), size)


def render_zh_line(
    text: str, face: Face, rng: random.Random, size: int | None = None, latin: Path | None = None
) -> np.ndarray:
    """Dark text on a light background (uint8 gray), cropped around the em box with random margins;
    ASCII runs in the ``latin`` font when one is given."""
    size = size or rng.randint(*SIZES)
    font = _font(face.path, face.index, size)
    tracking = 0.0
    if rng.random() < 0.2:  # letter-spaced headings and form labels: 发 票 代 码
        tracking = size * rng.choice([0.1, 0.25, 0.5, 1.0])
    _, ref_top, _, ref_bottom = font.getbbox(REFERENCE_GLYPH, anchor="ls")
    latin_font, latin_chars = _latin_setup(latin, size, rng)
    if not tracking:
        pieces = [(run, latin_font if is_latin else font) for run, is_latin in runs(text, latin_chars)]
    else:  # one character at a time when letter-spaced
        pieces = [(ch, latin_font if latin_font is not None and ch in latin_chars else font) for ch in text]
    advance = sum(f.getlength(run) + tracking * len(run) for run, f in pieces)
    pad = size
    width = int(advance) + 2 * pad
    height = (ref_bottom - ref_top) + 2 * pad
    bg = rng.randint(170, 255)
    fg = rng.randint(0, max(0, bg - 90))
    img = Image.new("L", (max(8, width), height), color=bg)
    draw = ImageDraw.Draw(img)
    baseline = pad - ref_top
    x = float(pad)
    for run, f in pieces:
        draw.text((x, baseline), run, font=f, fill=fg, anchor="ls")
        x += f.getlength(run) + tracking * len(run)
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
