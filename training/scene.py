"""Scene-text samples: words as they appear on signs, posters, covers and packaging.

Receipts are dark ink on paper; scene text is coloured letters on coloured, textured or cluttered
backgrounds, often light on dark, outlined or shadowed, sometimes on a curved baseline, cropped
tightly.  ``render_scene(text, font, rng)`` draws one such word in colour and returns it in gray
(what the recognizer sees).  The usual scan/photo degradations (``render.augment``) are applied on
top by the caller.  Deterministic for a seed, like ``render_line``.
"""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .render import _font
from .text_sources import _case, dictionary_words, frequent_word, number

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


FREQUENT_SHARE = 0.5


def scene_text(rng: random.Random) -> str:
    """Mostly single words in sign-like casing (UPPER, Title, lower), some numbers and pairs."""
    r = rng.random()
    if r < 0.12:
        return number(rng)
    words = dictionary_words()
    n = 1 if r < 0.8 else 2 if r < 0.95 else 3
    # about half the words by real frequency (short common words), half uniformly from the dictionary
    text = " ".join(frequent_word(rng) if rng.random() < FREQUENT_SHARE else rng.choice(words) for _ in range(n))
    c = rng.random()
    if c < 0.35:
        return text.upper()
    if c < 0.7:
        return text.title()
    if c < 0.85:
        return text.lower()
    return _case(rng, text)


def _colour_with_luma(rng: random.Random, luma: float) -> np.ndarray:
    """A random hue whose luminance is about ``luma`` (0..255)."""
    c = np.array([rng.uniform(0, 255) for _ in range(3)], np.float32) * rng.uniform(0.0, 1.0)
    c = c + (luma - float(c @ LUMA))
    return np.clip(c, 0, 255)


def _background(rng: random.Random, h: int, w: int) -> np.ndarray:
    """Solid, gradient, blotchy texture or clutter of shapes; float32 RGB."""
    base = np.array([rng.uniform(0, 255) for _ in range(3)], np.float32)
    kind = rng.random()
    if kind < 0.3:
        return np.broadcast_to(base, (h, w, 3)).copy()
    if kind < 0.55:
        other = np.array([rng.uniform(0, 255) for _ in range(3)], np.float32)
        t = np.linspace(0, 1, w if rng.random() < 0.6 else h, dtype=np.float32)
        t = t[None, :, None] if t.shape[0] == w else t[:, None, None]
        return base * (1 - t) + other * t + np.zeros((h, w, 3), np.float32)
    if kind < 0.8:
        cell = rng.randint(4, 24)
        noise = np.random.default_rng(rng.getrandbits(32)).uniform(-1, 1, (h // cell + 2, w // cell + 2, 3))
        noise = noise.astype(np.float32)
        noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
        return np.clip(base + noise * rng.uniform(15, 70), 0, 255)
    img = Image.new("RGB", (w, h), tuple(int(v) for v in base))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(2, 8)):
        xa, xb = sorted([rng.randint(-w // 4, w), rng.randint(-w // 4, w)])
        ya, yb = sorted([rng.randint(-h, h), rng.randint(0, 2 * h)])
        xy = (xa, ya, xb, yb)
        fill = tuple(rng.randint(0, 255) for _ in range(3))
        (draw.rectangle if rng.random() < 0.6 else draw.ellipse)(xy, fill=fill)
    return np.asarray(img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 3))), np.float32)


def _curve(img: np.ndarray, masks: list[np.ndarray], rng: random.Random) -> tuple[np.ndarray, list[np.ndarray]]:
    """Bend the baseline (an arc or a gentle wave) by remapping rows, image and masks alike."""
    h, w = img.shape[:2]
    x = np.linspace(-1, 1, w, dtype=np.float32)
    amp = rng.uniform(0.05, 0.25) * h
    dy = amp * x**2 * rng.choice([-1, 1]) if rng.random() < 0.7 else amp * np.sin(np.pi * x * rng.uniform(1, 2))
    map_x = np.tile(np.arange(w, dtype=np.float32), (h, 1))
    map_y = np.arange(h, dtype=np.float32)[:, None] + (dy - dy.mean())[None, :]

    def warp(a: np.ndarray) -> np.ndarray:
        return cv2.remap(a, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    return warp(img), [warp(m) for m in masks]


def render_scene(
    text: str,
    font_path: Path,
    rng: random.Random,
    size: int | None = None,
    index: int = 0,
    outline_div: int = 12,
) -> np.ndarray:
    """One word in scene style, tightly cropped; uint8 gray.  ``index``: the face in a collection
    (the zh profile draws signs and packaging in its CJK faces with this too).  ``outline_div``:
    the widest outline is the size over this; a hanzi's strokes are about three times denser than a
    Latin letter's, so the zh profile passes a larger one, or the outline fills the glyph in."""
    size = size or rng.randint(26, 56)
    font = _font(font_path, size, index)
    x0, y0, x1, y1 = font.getbbox(text)
    # letter-spaced signage ("tracking"): wide gaps between letters that are not word spaces
    tracking = round(size * rng.uniform(0.08, 0.35)) if rng.random() < 0.2 else 0
    pad = size
    w, h = x1 - x0 + 2 * pad + tracking * 3 * len(text), max(y1 - y0, size) + 2 * pad
    origin = (pad - x0, pad - y0 + (size - (y1 - y0)) // 2 if y1 - y0 < size else pad - y0)

    outline = rng.randint(1, max(1, size // outline_div)) if rng.random() < 0.2 else 0
    fill_mask = Image.new("L", (w, h), 0)
    _draw_text(ImageDraw.Draw(fill_mask), origin, text, font, tracking)
    layers: list[tuple[np.ndarray, float]] = []  # (mask, luma) painted in order

    bg = _background(rng, h, w)
    bg_luma = float(np.median(bg.reshape(-1, 3) @ LUMA))
    sign = rng.choice([-1, 1]) if 60 < bg_luma < 195 else (-1 if bg_luma >= 195 else 1)
    contrast = rng.uniform(45, 200)
    text_luma = float(np.clip(bg_luma + sign * contrast, 0, 255))

    if rng.random() < 0.2:  # drop shadow
        dx, dy = rng.randint(1, max(1, size // 10)), rng.randint(1, max(1, size // 10))
        shadow = fill_mask.transform(fill_mask.size, Image.Transform.AFFINE, (1, 0, -dx, 0, 1, -dy))
        shadow = shadow.filter(ImageFilter.GaussianBlur(rng.uniform(0, 2)))
        layers.append((np.asarray(shadow, np.float32) / 255.0, float(np.clip(bg_luma - sign * 90, 0, 255))))
    if outline:
        stroke = Image.new("L", (w, h), 0)
        _draw_text(ImageDraw.Draw(stroke), origin, text, font, tracking, stroke_width=outline, stroke_fill=255)
        layers.append((np.asarray(stroke, np.float32) / 255.0, float(np.clip(text_luma - sign * 150, 0, 255))))
    fill = np.asarray(fill_mask, np.float32) / 255.0
    layers.append((fill, text_luma))

    img = bg
    for mask, luma in layers:
        colour = _colour_with_luma(rng, luma)
        if rng.random() < 0.2:  # two-tone letters: a vertical gradient inside the glyphs
            t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
            colour = colour * (1 - t) + _colour_with_luma(rng, luma) * t
        img = img * (1 - mask[..., None]) + colour * mask[..., None]

    gray = np.clip(img @ LUMA, 0, 255).astype(np.uint8)
    ink = (fill > 0.5).astype(np.uint8)
    if rng.random() < 0.25:
        gray, (ink,) = _curve(gray, [ink], rng)
    ys, xs = np.nonzero(ink)
    if len(ys) == 0:
        return gray
    ty, by, tx, bx = ys.min(), ys.max(), xs.min(), xs.max()
    th = max(1, by - ty)
    extra = outline + 1
    top = max(0, ty - extra - int(th * rng.uniform(0.0, 0.25)))
    bottom = min(h, by + extra + 1 + int(th * rng.uniform(0.0, 0.25)))
    left = max(0, tx - extra - int(th * rng.uniform(0.0, 0.4)))
    right = min(w, bx + extra + 1 + int(th * rng.uniform(0.0, 0.4)))
    crop = gray[top:bottom, left:right]
    if rng.random() < 0.25:
        crop = _edge_specks(crop, text_luma, rng)
    return crop


def _draw_text(
    draw: ImageDraw.ImageDraw,
    origin: tuple[int, int],
    text: str,
    font: ImageFont.FreeTypeFont,
    tracking: int,
    **kw: int,
) -> None:
    """Draw ``text`` with ``tracking`` extra pixels after each letter (three times that at a space,
    so word gaps stay wider than letter gaps)."""
    if not tracking:
        draw.text(origin, text, font=font, fill=255, **kw)
        return
    x, y = origin
    for ch in text:
        draw.text((x, y), ch, font=font, fill=255, **kw)
        x += font.getlength(ch) + tracking * (3 if ch == " " else 1)


def _edge_specks(img: np.ndarray, luma: float, rng: random.Random) -> np.ndarray:
    """Dots and dashes at the left/right edges, where crops of signs catch bits of the frame,
    neighbouring letters and dirt; the label stays the same, so they are not read as punctuation."""
    img = img.copy()
    h, w = img.shape
    for _ in range(rng.randint(1, 3)):
        x = rng.randint(0, max(0, w // 20)) if rng.random() < 0.5 else rng.randint(w - 1 - w // 20, w - 1)
        y = rng.randint(0, h - 1)
        r = rng.randint(1, max(1, h // 10))
        if rng.random() < 0.6:
            cv2.circle(img, (x, y), r, int(luma), -1)
        else:
            cv2.line(img, (x, max(0, y - 2 * r)), (x, min(h - 1, y + 2 * r)), int(luma), r)
    return img
