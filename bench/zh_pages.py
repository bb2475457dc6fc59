"""Whole Chinese pages side by side: our page pipeline with ``crnn-zh`` against RapidOCR (det+cls+rec).

The line benchmark (``bench/zh_recognition.py``) hands both recognizers perfect crops; a user sends
pages.  Here each engine gets the same rendered page file and returns its text; we score the page
text, lines joined in the engine's own order, against the truth.  The pages are made here, since no
real Chinese page may be trained or tuned on and none is in ``../shared``: document-like A5 pages
(a title, letter-spaced by half or 0.8 of an em on two pages in three as invoice and form titles are,
invoice fields, goods rows, paragraphs of held-out ``fortunes-zh`` sentences) drawn in the
font families held out of training, at screen and scan sizes (16-32 px a character), half of them
lightly degraded like a scan (a small skew, blur, noise, JPEG).  Deterministic for a given ``--seed``.

CER strict and normalised as ``training/zh/scoring.py`` defines them (the normalised one also drops
all whitespace, so line breaks and the order of two lines on one row cost nothing beyond their
characters' order).  Both engines get the same thread budget (``--threads``).

    make bench-zh-pages VERSION=1.0.0
    .venv-bench/bin/python bench/zh_pages.py --version 1.0.0 [--pages 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Stopwatch, format_table, latency_summary, thread_env, write_json
from bench.page_latency import Engine, ours_inproc, rapidocr
from training.zh.corpus import sentence_lines
from training.zh.fonts import Face, face_coverage, split_faces
from training.zh.generators import ZhText, invoice_field, item_row, receipt_line
from training.zh.scoring import cer_normalised, cer_strict

PAGE_W, PAGE_H, MARGIN = 1240, 1754, 60  # A5 at 210 dpi / A4 at 150 dpi: a typical upload


def _page_lines(rng: random.Random, sentences: list[str], words: Any) -> list[str]:
    """A document: a title, 4-8 invoice fields or goods rows, then 4-10 sentence lines."""
    title = rng.choice(["增值税专用发票", "销售清单", "收据", "通知", "会议纪要", "报价单"])
    gens = (invoice_field, item_row, receipt_line)
    fields = [" ".join(rng.choice(gens)(rng, words).split())[:30].strip() for _ in range(rng.randint(4, 8))]
    body = [rng.choice(sentences) for _ in range(rng.randint(4, 10))]
    return [title, *[f for f in fields if f], *body]


def render_page(rng: random.Random, lines: list[str], face: Face, size: int) -> tuple[np.ndarray, list[str]]:
    """Black text on white, left aligned, ``size`` px a character; lines that do not fit are dropped
    (and dropped from the truth), characters the face lacks are left out of line and truth alike."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(face.path), size, index=face.index)
    cover = face_coverage(face.path, face.index)
    img = Image.new("L", (PAGE_W, PAGE_H), 255)
    pen = ImageDraw.Draw(img)
    y, kept = MARGIN, []
    pitch = int(size * rng.uniform(1.6, 2.2))
    # the title is letter-spaced on half the pages, as invoice and form titles are (发 票)
    title_spacing = size * rng.choice([0.0, 0.5, 0.8])
    for i, raw in enumerate(lines):
        text = " ".join("".join(c for c in raw if c in cover or c == " ").split())
        spacing = title_spacing if i == 0 else 0.0

        def width(t: str, spacing: float = spacing) -> float:
            return font.getlength(t) + spacing * max(0, len(t) - 1)

        while text and MARGIN + width(text) > PAGE_W - MARGIN:
            text = text[:-1].rstrip()
        if not text:
            continue
        if y + pitch > PAGE_H - MARGIN:
            break
        x = float(MARGIN)
        for ch in text if spacing else [text]:
            pen.text((x, y), ch, font=font, fill=0)
            x += font.getlength(ch) + spacing
        kept.append(text)
        y += pitch
    return np.asarray(img).copy(), kept


def degrade(page: np.ndarray, nrng: np.random.Generator) -> np.ndarray:
    """A light scan: up to 1 degree of skew, a little blur and noise (JPEG is applied when saved)."""
    h, w = page.shape
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), float(nrng.uniform(-1.0, 1.0)), 1.0)
    out = cv2.warpAffine(page, rot, (w, h), borderValue=255)
    out = cv2.GaussianBlur(out, (3, 3), float(nrng.uniform(0.3, 0.9)))
    noise = nrng.normal(0, nrng.uniform(3, 9), out.shape)
    return np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def make_pages(n: int, seed: int, folder: Path) -> list[tuple[Path, str]]:
    """``n`` page files in ``folder`` with their truth (lines joined by newlines)."""
    _, held = split_faces()
    sentences = sentence_lines("test")
    words = ZhText("test").words
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    families: dict[str, list[Face]] = {}
    for f in held:
        families.setdefault(f.family, []).append(f)
    fams = [families[k] for k in sorted(families)]
    out = []
    for i in range(n):
        face = rng.choice(rng.choice(fams))
        size = rng.choice([16, 20, 24, 28, 32])
        page, kept = render_page(rng, _page_lines(rng, sentences, words), face, size)
        scanned = i % 2 == 1
        path = folder / f"zh-page-{i:03d}.{'jpg' if scanned else 'png'}"
        if scanned:
            cv2.imwrite(str(path), degrade(page, nrng), [cv2.IMWRITE_JPEG_QUALITY, int(rng.randint(70, 90))])
        else:
            cv2.imwrite(str(path), page)
        out.append((path, "\n".join(kept)))
    return out


def measure(engine: Engine, pages: list[tuple[Path, str]]) -> dict[str, Any]:
    """Each page file through ``engine`` (a ``bench/page_latency.py`` engine), timed and scored."""

    def read(path: Path) -> str:
        return engine.read(path, path.read_bytes())

    read(pages[0][0])  # warm-up
    seconds, pairs, failures = [], [], 0
    for path, truth in pages:
        try:
            with Stopwatch() as sw:
                text = read(path)
        except Exception as err:  # reported and scored as empty, the run goes on
            print(f"failed on {path.name}: {type(err).__name__}: {err}", file=sys.stderr)
            failures, text = failures + 1, ""
        else:
            seconds.append(sw.seconds)
        pairs.append((text, truth))
    lat = latency_summary(seconds)
    return {
        "pages": len(pages),
        "failures": failures,
        "cer": cer_strict(pairs),
        "cer_norm": cer_normalised(pairs),
        "p50_ms": lat["p50_ms"],
        "mean_ms": lat["mean_ms"],
        "chars": sum(len(t) for _, t in pages),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="crnn-zh")
    ap.add_argument("--version", required=True)
    ap.add_argument("--models-dir", default=None)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engines", default="ours,rapidocr")
    ap.add_argument("--keep", type=Path, help="write the pages and their truth here instead of a temp dir")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    os.environ.update(thread_env(args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        pages = make_pages(args.pages, args.seed, folder)
        if args.keep:
            for path, truth in pages:
                path.with_suffix(".txt").write_text(truth + "\n", encoding="utf-8")
        factories = {
            "ours": lambda: ours_inproc(args.threads, (args.model, args.version), args.models_dir),
            "rapidocr": lambda: rapidocr(args.threads),
        }
        rows = []
        for name in [n.strip() for n in args.engines.split(",") if n.strip()]:
            engine = factories[name]()
            print(f"  {name}: {len(pages)} pages ...", file=sys.stderr)
            rows.append({"engine": name, "settings": engine.settings, **measure(engine, pages)})
    chars = sum(len(t) for _, t in pages)
    print(f"pages={len(pages)} characters={chars} threads/engine={args.threads} seed={args.seed}")
    for r in rows:
        print(f"  {r['engine']:<9} {r['settings']}")
    print(format_table(
        [[r["engine"], r["pages"], r["failures"], r["cer"], r["cer_norm"], r["p50_ms"], r["mean_ms"]] for r in rows],
        ["engine", "pages", "failed", "page CER", "CER norm", "p50 ms/page", "mean ms/page"],
    ))  # fmt: skip
    if args.json:
        write_json(args.json, {"pages": len(pages), "seed": args.seed, "threads": args.threads, "engines": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
