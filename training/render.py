"""Render one synthetic text line and degrade it like a scan or a phone photo.

``render_line(text, font, rng)`` draws clean text; ``augment(img, rng)`` adds what real documents
suffer: blur, noise, JPEG artefacts, low resolution, small rotation and perspective, uneven light,
paper texture, ink bleed and erosion, rules and underlines, tight and loose crops.  Everything is
driven by the ``numpy`` generator passed in, so a seed reproduces a sample exactly.
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont


@lru_cache(maxsize=256)
def _font(path: Path, size: int, index: int = 0) -> ImageFont.FreeTypeFont:
    """``index``: the face inside a ``.ttc`` collection (the Chinese faces live in collections)."""
    return ImageFont.truetype(str(path), size, index=index)


def render_line(text: str, font_path: Path, rng: random.Random, size: int | None = None) -> np.ndarray:
    """Dark text on a light background, cropped around the ink with random margins; uint8 gray."""
    size = size or rng.randint(22, 44)
    font = _font(font_path, size)
    spacing = rng.choice([0, 0, 0, 0, 1, 2, -1]) if rng.random() < 0.3 else 0
    x0, y0, x1, y1 = font.getbbox(text)
    width = x1 - x0 + max(0, spacing) * len(text) + size
    height = max(y1 - y0, size) + size
    bg = rng.randint(170, 255)
    fg = rng.randint(0, max(0, bg - 90))
    img = Image.new("L", (max(8, width + 8), height + 8), color=bg)
    draw = ImageDraw.Draw(img)
    if spacing:
        x = 4 - x0 + size // 2
        for ch in text:
            draw.text((x, 4 - y0 + size // 2), ch, font=font, fill=fg)
            x += font.getlength(ch) + spacing
    else:
        draw.text((4 - x0 + size // 2, 4 - y0 + size // 2), text, font=font, fill=fg)
    arr = np.asarray(img)
    ink = np.argwhere(arr < (bg + fg) / 2)
    if len(ink) == 0:
        return arr
    (ty, tx), (by, bx) = ink.min(0), ink.max(0)
    text_h = max(by - ty, size // 2)
    # vertical margins relative to the font size (not ink height: "...." must stay small)
    mt = int(size * rng.uniform(0.05, 0.35))
    mb = int(size * rng.uniform(0.05, 0.35))
    ml = int(text_h * rng.uniform(0.0, 0.6))
    mr = int(text_h * rng.uniform(0.0, 0.6))
    top = max(0, min(ty, 4 + size // 2 - int(size * 0.05)) - mt)
    bottom = min(arr.shape[0], max(by, 4 + size // 2 + int(size * 0.95)) + mb)
    return arr[top:bottom, max(0, tx - ml) : min(arr.shape[1], bx + mr + 1)]


def _rotate_perspective(img: np.ndarray, rng: np.random.Generator, bg: int) -> np.ndarray:
    h, w = img.shape
    angle = rng.normal(0, 1.2)
    shear = rng.normal(0, 0.08)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), float(np.clip(angle, -4, 4)), 1.0)
    m[0, 1] += float(np.clip(shear, -0.3, 0.3))
    pad = int(abs(np.sin(np.radians(angle))) * w / 2) + 1
    out = (
        cv2.warpAffine(img, m, (w, h + 2 * pad), borderMode=cv2.BORDER_CONSTANT, borderValue=bg, flags=cv2.INTER_LINEAR)
        if pad > 1
        else cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=bg)
    )
    if rng.random() < 0.3:
        dy = h * 0.08
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = src + rng.uniform(-dy, dy, size=(4, 2)).astype(np.float32)
        out = cv2.warpPerspective(
            out, cv2.getPerspectiveTransform(src, dst), (out.shape[1], out.shape[0]), borderMode=cv2.BORDER_REPLICATE
        )
    return out


def augment(img: np.ndarray, rng: np.random.Generator, strength: float = 1.0, min_scale: float = 0.3) -> np.ndarray:
    """Randomly degrade a gray line image; ``strength`` 0 returns it unchanged.

    ``min_scale``: the smallest factor the low-resolution step shrinks by (a Chinese glyph has
    many more strokes than a Latin letter and becomes unreadable sooner, so the zh profile asks
    for a larger one); the same random draws are made whatever its value."""
    if strength <= 0:
        return img
    img = img.copy()
    h, w = img.shape
    bg = int(np.percentile(img, 90))

    def p(x: float) -> bool:
        return bool(rng.random() < x * strength)

    if p(0.15):  # table rule or underline
        y = int(rng.choice([rng.integers(0, max(1, h // 6)), rng.integers(h - max(1, h // 6), h)]))
        cv2.line(img, (0, y), (w, y), int(rng.integers(0, 120)), int(rng.integers(1, 3)))
    if p(0.08):  # vertical table rule at an edge
        x = int(rng.choice([rng.integers(0, max(1, w // 30)), w - 1 - rng.integers(0, max(1, w // 30))]))
        cv2.line(img, (x, 0), (x, h), int(rng.integers(0, 120)), int(rng.integers(1, 3)))
    if p(0.4):
        img = _rotate_perspective(img, rng, bg)
    if p(0.25):  # ink bleed / erosion
        k = np.ones((2, 2), np.uint8)
        img = cv2.erode(img, k) if rng.random() < 0.5 else cv2.dilate(img, k)
    if p(0.3):  # uneven lighting
        hh, ww = img.shape
        gx = np.linspace(rng.uniform(-60, 20), rng.uniform(-60, 20), ww, dtype=np.float32)
        gy = np.linspace(rng.uniform(-30, 10), rng.uniform(-30, 10), hh, dtype=np.float32)
        img = np.clip(img.astype(np.float32) + gx[None, :] + gy[:, None], 0, 255).astype(np.uint8)
    if p(0.3):  # paper texture: low-frequency noise
        hh, ww = img.shape
        tex = rng.normal(0, 1, size=(max(2, hh // 8), max(2, ww // 8))).astype(np.float32)
        tex = cv2.resize(tex, (ww, hh), interpolation=cv2.INTER_CUBIC) * rng.uniform(3, 15)
        img = np.clip(img.astype(np.float32) + tex, 0, 255).astype(np.uint8)
    if p(0.35):  # low resolution
        f = rng.uniform(min_scale, 0.8)
        hh, ww = img.shape
        small = cv2.resize(img, (max(4, int(ww * f)), max(4, int(hh * f))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (ww, hh), interpolation=cv2.INTER_LINEAR)
    if p(0.35):
        k = int(rng.choice([3, 3, 5]))
        img = cv2.GaussianBlur(img, (k, k), float(rng.uniform(0.3, 1.3)))
    elif p(0.1):  # motion blur
        k = int(rng.integers(3, 6))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        img = cv2.filter2D(img, -1, kernel)
    if p(0.4):
        img = np.clip(img.astype(np.float32) + rng.normal(0, rng.uniform(2, 18), img.shape), 0, 255).astype(np.uint8)
    if p(0.35):
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 80))])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    if p(0.2):  # contrast squash
        lo, hi = rng.uniform(0, 80), rng.uniform(170, 255)
        img = (lo + img.astype(np.float32) * (hi - lo) / 255.0).astype(np.uint8)
    if p(0.05):  # light text on dark background (the recognizer normalises polarity)
        img = 255 - img
    return img


def office_scan(img: np.ndarray, rng: np.random.Generator, text_height: tuple[int, int] = (9, 20)) -> np.ndarray:
    """Degrade a clean line the way office scanners and faxes do, keeping its letter case.

    Real forms (FUNSD, 100 dpi) look like this: text a dozen pixels high, hard black-and-white
    thresholding with broken or bloated strokes, toner specks and salt noise, a slight skew, JPEG
    blocks.  SROIE's upper-case-only labels had taught "looks like a scan" = "capitals"; rendering
    mixed-case text in this look removes that shortcut.

    ``text_height``: the range of line heights (px) the scan is shrunk to; Chinese needs more
    pixels than Latin (the zh profile passes a higher range).
    """
    img = img.copy()
    bg = int(np.percentile(img, 90))
    if rng.random() < 0.5:
        img = _rotate_perspective(img, rng, bg)
    h, w = img.shape
    # low dpi: text x-height of a few pixels, then back up (the recognizer rescales to 32 px anyway)
    target_h = int(rng.integers(*text_height))
    f = min(1.0, target_h / max(1, h))
    small = cv2.resize(img, (max(4, int(w * f)), max(4, int(h * f))), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.3:
        small = cv2.GaussianBlur(small, (3, 3), float(rng.uniform(0.3, 0.9)))
    if rng.random() < 0.7:  # binarised scan / fax: a threshold somewhere between ink and paper
        lo, hi = int(np.percentile(small, 5)), int(np.percentile(small, 95))
        t = lo + (hi - lo) * rng.uniform(0.35, 0.7)
        small = np.where(small < t, rng.integers(0, 60), rng.integers(200, 256)).astype(np.uint8)
        if rng.random() < 0.3:  # broken or bloated strokes after thresholding
            k = np.ones((2, 1) if rng.random() < 0.5 else (1, 2), np.uint8)
            small = cv2.erode(small, k) if rng.random() < 0.5 else cv2.dilate(small, k)
    if rng.random() < 0.5:  # toner specks and salt noise
        amount = rng.uniform(0.002, 0.03)
        mask = rng.random(small.shape)
        small = small.copy()
        small[mask < amount / 2] = 0
        small[mask > 1 - amount / 2] = 255
    out = small
    if rng.random() < 0.8:
        interp = cv2.INTER_LINEAR if rng.random() < 0.5 else cv2.INTER_NEAREST
        out = cv2.resize(small, (w, h), interpolation=interp)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 80))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out
