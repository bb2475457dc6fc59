"""Pages of several columns, and tables, side by side: does each engine read them in reading order?

Page CER (case-sensitive, whitespace collapsed; "folded" also ignores case) counts every line
read out of place as errors, so on a two-column page an engine that reads row by row (left line 1,
right line 1, ...) scores badly however well it reads the letters.  The bag-of-words F1 (order-free)
tells letters apart from order: two engines with the same F1 and different page CER differ in
reading order.

The pages are drawn here (``bench/column_pages.py``: no real multi-column page is in ``../shared``):
a bold title across the page, two or three columns of running English text (frequent words in
sentences) whose baselines are aligned on some pages and staggered on others, a centred page number;
every fourth page is a three-column table (item, quantity, price), which must stay row by row.  Fonts
are the families held out of training (``training/fonts.py``), 16-22 px.  Deterministic per ``--seed``.

Engines (same thread budget, as in ``bench/page_latency.py``):

* ``ours``       the server's pipeline in process (columns of running text read whole, else rows).
* ``ours-rows``  the same with the column rule off: rows only, the reading order before 2026-12.
* ``rapidocr``   RapidOCR (PP-OCRv4 det+cls+rec), its own order.
* ``tesseract``  ``tesseract --psm 3`` (automatic page layout, columns included).

    make bench-columns
    .venv-bench/bin/python bench/reading_order.py [--pages 12] [--engines ours,ours-rows] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.column_pages import RenderedPage, columns_page, table_page
from bench.common import Stopwatch, edit_distance, format_table, latency_summary, thread_env, write_json
from bench.page_latency import Engine, ours_inproc, rapidocr, tesseract

ENGINES = ("ours", "ours-rows", "rapidocr", "tesseract")


def prose(rng: random.Random, words: int = 900) -> str:
    """Sentences of 6-18 frequent English words, capitalised, with a comma now and then."""
    from training.text_sources import frequent_word

    out: list[str] = []
    while len(out) < words:
        sentence = [frequent_word(rng) for _ in range(rng.randint(6, 18))]
        sentence[0] = sentence[0].capitalize()
        if len(sentence) > 8 and rng.random() < 0.5:
            sentence[rng.randint(3, len(sentence) - 3)] += ","
        sentence[-1] += "."
        out += sentence
    return " ".join(out)


def held_out_faces() -> list[tuple[Path, Path | None]]:
    """``(regular, bold)`` font files of the held-out families that have an upright regular face."""
    from training.fonts import split_fonts

    _, held = split_fonts()
    by_family: dict[str, list[Path]] = {}
    for font in held:
        by_family.setdefault(font.family, []).append(Path(font.path))
    faces = []
    for paths in by_family.values():
        names = {p.stem.lower(): p for p in paths}
        regular = next((p for n, p in sorted(names.items()) if "regular" in n or n.endswith(("-r", "r"))), None)
        bold = next((p for n, p in sorted(names.items()) if n.endswith("bold") or "-bold" in n), None)
        if regular is not None and "mono" not in regular.stem.lower():
            faces.append((regular, bold))
    return faces


def make_pages(n: int, seed: int) -> list[tuple[str, RenderedPage]]:
    """``n`` pages: every fourth a table, the rest of two or three columns (see the module docstring)."""
    rng = random.Random(seed)
    faces = held_out_faces()
    if not faces:
        raise SystemExit("no held-out font families found (make setup-apt installs them)")
    pages = []
    for i in range(n):
        regular, bold = faces[i % len(faces)]
        size = rng.randint(16, 22)
        if i % 4 == 3:
            pages.append((f"table-{i}", table_page(rows=rng.randint(6, 10), size=size, regular=regular)))
            continue
        columns = 3 if i % 4 == 2 else 2
        width = 1300 if columns == 3 else 1200
        page = columns_page(
            columns=columns, size=size - (2 if columns == 3 else 0), width=width,
            lines_per_column=rng.randint(10, 16), stagger=rng.choice([0, 0, 7, 13]),
            prose=prose(rng), regular=regular, bold_font=bold, heading=" ".join(prose(rng, 8).split()[:7]).rstrip("."),
        )  # fmt: skip
        pages.append((f"{columns}col-{i}", page))
    return pages


def page_errors(hyp: str, ref: str) -> tuple[int, int, int, int]:
    """``(errors, chars, errors folded, chars folded)`` with whitespace collapsed (a line break and a
    space are the same separator: engines join a row's segments either way); folded also ignores case."""
    h, r = " ".join(hyp.split()), " ".join(ref.split())
    return edit_distance(h, r), len(r), edit_distance(h.casefold(), r.casefold()), len(r)


def bag_f1(hyp: str, ref: str) -> tuple[int, int, int]:
    """``(matched, hypothesis words, reference words)`` for an order-free bag-of-words F1."""
    h, r = Counter(hyp.split()), Counter(ref.split())
    return sum((h & r).values()), sum(h.values()), sum(r.values())


def rendered_page_args(doc: str | None, engines: tuple[str, ...], pages: int, seed: int) -> argparse.ArgumentParser:
    """The command line every rendered-page benchmark takes (this one and ``light_text_pages``)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=pages)
    ap.add_argument("--seed", type=int, default=seed)
    ap.add_argument("--engines", default=",".join(engines))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tesseract-threads", type=int, default=1)
    ap.add_argument("--json", type=Path)
    return ap


def score_rendered_pages(engines: list[Engine], pages: list[tuple[str, np.ndarray, list[str]]]) -> list[dict[str, Any]]:
    """Each engine reads every ``(name, RGB or gray image, truth lines)`` page from a PNG file (one
    warm-up read first): page CER per kind (the name up to its first ``-``) and over all pages,
    case-sensitive and folded (:func:`page_errors`), bag-of-words F1 and p50 milliseconds, a row per
    engine; each engine is closed after its pages."""
    from PIL import Image

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, image, texts in pages:
            path = Path(tmp) / f"{name}.png"
            Image.fromarray(image).save(path)
            files.append((name, path, path.read_bytes(), "\n".join(texts)))
        for engine in engines:
            engine.read(files[0][1], files[0][2])  # warm-up
            by_kind: dict[str, list[int]] = {}
            words = [0, 0, 0]
            ms: list[float] = []
            for name, path, data, truth in files:
                with Stopwatch() as sw:
                    text = engine.read(path, data)
                ms.append(sw.seconds)
                for key in (name.split("-")[0], "all"):
                    acc = by_kind.setdefault(key, [0, 0, 0, 0])
                    acc[:] = [a + b for a, b in zip(acc, page_errors(text, truth), strict=True)]
                words = [a + b for a, b in zip(words, bag_f1(text, truth), strict=True)]
            precision, recall = words[0] / max(1, words[1]), words[0] / max(1, words[2])
            row: dict[str, Any] = {"engine": engine.name, "settings": engine.settings, "pages": len(files)}
            for key, (err, chars, err_folded, chars_folded) in sorted(by_kind.items()):
                row[f"{key}_cer"] = round(err / max(1, chars), 4)
                row[f"{key}_cer_folded"] = round(err_folded / max(1, chars_folded), 4)
            row["bag_of_words_f1"] = round(2 * precision * recall / max(1e-9, precision + recall), 3)
            row["p50_ms"] = round(latency_summary(ms)["p50_ms"], 1)
            rows.append(row)
            engine.close()
    return rows


def ours(threads: int, columns: bool) -> Engine:
    """Our pipeline in process; ``columns=False``: the column rule off (``min_lines`` beyond any page)."""
    if columns:
        engine = ours_inproc(threads)
        engine.name = "ours"
        return engine
    from ocr_server.detection.layout import ColumnRule
    from ocr_server.detection.tuning import Tuning

    engine = ours_inproc(threads, tuning=dataclasses.replace(Tuning(), columns=ColumnRule(min_lines=10**9)))
    engine.name, engine.settings = "ours-rows", engine.settings + ", rows only"
    return engine


def build(names: list[str], threads: int, tesseract_threads: int) -> list[Engine]:
    factories = {
        "ours": lambda: ours(threads, columns=True),
        "ours-rows": lambda: ours(threads, columns=False),
        "rapidocr": lambda: rapidocr(threads),
        "tesseract": lambda: tesseract(tesseract_threads),
    }
    return [factories[n]() for n in names]


def main(argv: list[str] | None = None) -> int:
    args = rendered_page_args(__doc__, ENGINES, pages=12, seed=7).parse_args(argv)
    import os

    os.environ.update(thread_env(args.threads))
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    engines = build(names, args.threads, args.tesseract_threads)
    pages = make_pages(args.pages, args.seed)
    rows = score_rendered_pages(engines, [(name, page.image, page.texts) for name, page in pages])
    kinds = sorted({k[: -len("_cer")] for r in rows for k in r if k.endswith("_cer")}, key=lambda k: (k == "all", k))
    header = ["engine", *[f"{k} CER" for k in kinds], *[f"{k} folded" for k in kinds], "bag F1", "p50 ms"]
    table = [
        [r["engine"], *[r.get(f"{k}_cer") for k in kinds], *[r.get(f"{k}_cer_folded") for k in kinds],
         r["bag_of_words_f1"], r.get("p50_ms")]
        for r in rows
    ]  # fmt: skip
    print(f"{len(pages)} rendered pages ({', '.join(sorted({n.split('-')[0] for n, _ in pages}))}), seed {args.seed}")
    print(format_table(table, header))
    for r in rows:
        print(f"  {r['engine']}: {r['settings']}")
    if args.json:
        write_json(args.json, {"pages": len(pages), "seed": args.seed, "results": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
