"""Light text on dark ground and low-contrast colour, side by side: slides, dark-mode screenshots,
white pages with a dark title bar and a dark table header, slides in colours of about the same
luminance (yellow on white, blue on black, red on blue, ...), plus plain printed pages as the control.

Drawn here in the font families held out of training (``bench/reading_order.held_out_faces``), with
generated English sentences: no such page is in ``../shared``.  Page CER case-sensitive and
case-folded, whitespace collapsed (as ``bench/reading_order.py``), and an order-free bag-of-words F1.

* ``ours``            the server's pipeline in process (light text turned, low contrast stretched).
* ``ours-no-invert``  the same with ``invertLightText`` and ``stretchLowContrast`` false (as before 2026-12-03).
* ``rapidocr``        rapidocr_onnxruntime with its PP-OCRv4 det+cls+rec, defaults.
* ``tesseract``       ``tesseract --psm 3`` (automatic page layout; it guesses inverted lines itself).

    make bench-light
    .venv-bench/bin/python bench/light_text_pages.py [--pages 16] [--engines ours,rapidocr] [--json out.json]
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import format_table, thread_env, write_json
from bench.page_latency import Engine, ours_inproc, rapidocr, tesseract
from bench.reading_order import held_out_faces, prose, rendered_page_args, score_rendered_pages

ENGINES = ("ours", "ours-no-invert", "rapidocr", "tesseract")
KINDS = ("slide", "screen", "banner", "colour", "print")

Colour = tuple[int, int, int]


def _sentences(rng: random.Random, n: int, words: tuple[int, int]) -> list[str]:
    text = prose(rng, 40 * n).split()
    out, i = [], 0
    for _ in range(n):
        k = rng.randint(*words)
        out.append(" ".join(text[i : i + k]).rstrip(",."))
        i += k
    return out


def _dark(rng: random.Random) -> Colour:
    return rng.choice([(20, 30, 80), (30, 30, 30), (15, 60, 45), (70, 20, 30), (40, 90, 160), (25, 25, 40)])


def _light(rng: random.Random) -> Colour:
    return rng.choice([(255, 255, 255), (235, 235, 235), (212, 212, 212), (255, 230, 150)])


def _low_contrast(rng: random.Random) -> tuple[Colour, Colour]:
    """``(ground, ink)`` whose luminances lie 30-60 levels apart, though the colours differ plainly."""
    return rng.choice(
        [
            ((255, 255, 255), (255, 210, 0)),  # yellow on white
            ((0, 0, 0), (40, 40, 255)),  # blue on black
            ((30, 60, 200), (230, 40, 40)),  # red on blue
            ((200, 30, 30), (40, 200, 40)),  # green on red
            ((255, 255, 255), (190, 190, 190)),  # light grey on white
            ((250, 240, 200), (120, 200, 250)),  # sky blue on cream
        ]
    )


def render(kind: str, rng: random.Random, regular: Path, bold: Path | None) -> tuple[np.ndarray, list[str]]:
    """One page of ``kind`` as an RGB array and its lines' texts in reading order."""
    from PIL import Image, ImageDraw, ImageFont

    def font(size: int, heavy: bool = False) -> Any:
        return ImageFont.truetype(str(bold if heavy and bold else regular), size)

    lines: list[str] = []
    if kind in ("slide", "colour"):
        ground, ink = (_dark(rng), _light(rng)) if kind == "slide" else _low_contrast(rng)
        img = Image.new("RGB", (1280, 720), ground)
        draw = ImageDraw.Draw(img)
        title = _sentences(rng, 1, (3, 5))[0].title()
        draw.text((80, 60), title, font=font(44, heavy=True), fill=ink)
        lines.append(title)
        size = rng.randint(26, 32)
        for i, text in enumerate(_sentences(rng, rng.randint(4, 6), (5, 8))):
            draw.text((100, 190 + i * int(size * 2.1)), text, font=font(size), fill=ink)
            lines.append(text)
    elif kind == "screen":
        ground, ink = (
            rng.choice([(30, 30, 30), (40, 44, 52), (13, 17, 23)]),
            rng.choice([(212, 212, 212), (220, 223, 228)]),
        )
        img = Image.new("RGB", (1100, 700), ground)
        draw = ImageDraw.Draw(img)
        size = rng.randint(14, 17)
        for i, text in enumerate(_sentences(rng, rng.randint(9, 13), (4, 9))):
            draw.text((40, 40 + i * int(size * 2.0)), text, font=font(size), fill=ink)
            lines.append(text)
    else:
        img = Image.new("RGB", (1200, 1000), (255, 255, 255))
        draw = ImageDraw.Draw(img)
        size = rng.randint(18, 24)
        y = 60
        if kind == "banner":
            draw.rectangle((0, 0, 1200, 120), fill=_dark(rng))
            title = _sentences(rng, 1, (3, 5))[0].title()
            draw.text((60, 38), title, font=font(36, heavy=True), fill=_light(rng))
            lines.append(title)
            y = 180
        for text in _sentences(rng, rng.randint(5, 8), (7, 10)):
            draw.text((60, y), text, font=font(size), fill=(0, 0, 0))
            lines.append(text)
            y += int(size * 1.8)
        if kind == "banner":
            y += size
            draw.rectangle((60, y - 10, 1140, y + size + 14), fill=_dark(rng))
            header = [w.capitalize() for w in _sentences(rng, 1, (3, 3))[0].split()]
            for x, word in zip((80, 560, 900), header, strict=True):
                draw.text((x, y), word, font=font(size, heavy=True), fill=(255, 255, 255))
            lines.append(" ".join(header))
            for _ in range(rng.randint(2, 4)):
                y += int(size * 2.0)
                cells = [
                    _sentences(rng, 1, (2, 2))[0],
                    f"{rng.randint(1, 99)},{rng.randint(100, 999)}",
                    rng.choice(["Dr. Hale", "J. Ortiz", "M. Chen"]),
                ]
                for x, cell in zip((80, 560, 900), cells, strict=True):
                    draw.text((x, y), cell, font=font(size), fill=(0, 0, 0))
                lines.append(" ".join(cells))
    return np.array(img), lines


def make_pages(n: int, seed: int) -> list[tuple[str, np.ndarray, list[str]]]:
    rng = random.Random(seed)
    faces = held_out_faces()
    if not faces:
        raise SystemExit("no held-out font families found (make setup-apt installs them)")
    pages = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        regular, bold = faces[i % len(faces)]
        image, lines = render(kind, rng, regular, bold)
        pages.append((f"{kind}-{i}", image, lines))
    return pages


def ours_without_inversion(threads: int) -> Engine:
    switches = ("OCR__PREPROCESSING__INVERT_LIGHT_TEXT", "OCR__PREPROCESSING__STRETCH_LOW_CONTRAST")
    os.environ.update(dict.fromkeys(switches, "false"))  # read by load_config, as a deployment would set them
    try:
        engine = ours_inproc(threads)
    finally:
        for name in switches:
            del os.environ[name]
    engine.name, engine.settings = "ours-no-invert", engine.settings + ", invertLightText and stretchLowContrast false"
    return engine


def build(names: list[str], threads: int, tesseract_threads: int) -> list[Engine]:
    def ours() -> Engine:
        engine = ours_inproc(threads)
        engine.name = "ours"
        return engine

    factories: dict[str, Callable[[], Engine]] = {
        "ours": ours,
        "ours-no-invert": lambda: ours_without_inversion(threads),
        "rapidocr": lambda: rapidocr(threads),
        "tesseract": lambda: tesseract(tesseract_threads),
    }
    unknown = set(names) - set(factories)
    if unknown:
        raise SystemExit(f"unknown engines: {', '.join(sorted(unknown))}; known: {', '.join(factories)}")
    return [factories[n]() for n in names]


def main(argv: list[str] | None = None) -> int:
    args = rendered_page_args(__doc__, ENGINES, pages=20, seed=11).parse_args(argv)
    os.environ.update(thread_env(args.threads))
    engines = build([n.strip() for n in args.engines.split(",") if n.strip()], args.threads, args.tesseract_threads)
    pages = make_pages(args.pages, args.seed)
    rows = score_rendered_pages(engines, pages)
    kinds = [*KINDS, "all"]
    header = ["engine", *[f"{k} CER" for k in kinds], "all folded", "bag F1", "p50 ms"]
    table = [
        [r["engine"], *[r.get(f"{k}_cer") for k in kinds], r.get("all_cer_folded"), r["bag_of_words_f1"], r["p50_ms"]]
        for r in rows
    ]
    print(
        f"{len(pages)} rendered pages ({', '.join(KINDS)}), seed {args.seed}; CER case-sensitive, whitespace collapsed"
    )
    print(format_table(table, header))
    for r in rows:
        print(f"  {r['engine']}: {r['settings']}")
    if args.json:
        write_json(args.json, {"pages": len(pages), "seed": args.seed, "results": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
