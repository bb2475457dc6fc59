"""Evaluate a served model bundle on data the training never saw, and print the table.

    python -m training.evaluate --model crnn-en --version 1.1.0 [--limit N] [--json out.json]
    python -m training.evaluate --compare-runtimes --checkpoint runs/crnn/best.pt
    python -m training.evaluate --profile zh --model crnn-zh --version 1.0.0 [--models-dir DIR]

``--profile zh`` scores a Chinese bundle on its own sets instead (``training/zh/evaluation.py``):
1,000 lines of held-out sentences and 300 invoice/receipt fields, all drawn in the held-out font
families, CER strict and width-normalised (``training/zh/scoring.py``), ms/line.

Sets, led by those whose truth has real letter case: funsd-val lines (real noisy office forms,
mixed case; our validation split of funsd-train, by form, never trained on: the **case-sensitive**
CER is the headline), iiit5k-train words (validation only; scene text, case preserved), synthetic
lines in font families held out of training, the same drawn natively at screen sizes (10-16 px, a
stand-in for screenshots), and sroie-dev line crops (validation only; labels are
upper-case by convention, so there only the case-folded, whitespace-collapsed CER means anything).
Reports CER case-sensitive ("CER cs"), CER case-folded with whitespace collapsed ("CER ci"), CER
case-folded on letters and digits only ("alnum": the scene-word protocol, since iiit5k's truth holds
no punctuation or spaces; meaningless on the other sets, shown for completeness), exact-line
accuracy, and ms per line at batch and single.  Uses the ONNX Runtime recognizer, i.e. exactly what
the server runs.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from ocr_server.config import DEFAULT_MODEL_VERSION, DEFAULT_REREAD_BELOW
from ocr_server.recognition.lines import crop_box
from ocr_server.recognition.recognizer import Recognizer, load_recognizer
from ocr_server.recognition.scoring import cer, line_accuracy

from .datasets import SHARED_DATA, line_box
from .fonts import split_fonts
from .render import augment, render_line
from .splits import funsd_is_validation
from .text_sources import random_text


def page_lines(
    name: str, limit: int | None = None, keep_page: Callable[[str], bool] | None = None
) -> list[tuple[np.ndarray, str]]:
    """Full-resolution line crops of a ``pages.jsonl`` set (the server's own crop recipe)."""
    root = SHARED_DATA / name
    out = []
    for row in (json.loads(x) for x in (root / "pages.jsonl").read_text().splitlines()):
        if keep_page is not None and not keep_page(row["image"]):
            continue
        page = cv2.imread(str(root / row["image"]), cv2.IMREAD_COLOR)
        for line in row["lines"]:
            crop = crop_box(page, line_box(line))
            if crop.size and line["text"].strip():
                out.append((crop, line["text"]))
    return out[:limit] if limit else out


def sroie_dev(limit: int | None = None) -> list[tuple[np.ndarray, str]]:
    return page_lines("sroie-dev", limit)


def funsd_val(limit: int | None = None) -> list[tuple[np.ndarray, str]]:
    """Lines of our funsd-train validation forms (17 forms, 855 lines): real case on real scans."""
    return page_lines("funsd-train", limit, funsd_is_validation)


def iiit5k(limit: int | None = None) -> list[tuple[np.ndarray, str]]:
    root = SHARED_DATA / "iiit5k-train"
    rows = [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]
    rows = rows[:limit] if limit else rows
    return [(cv2.imread(str(root / r["image"]), cv2.IMREAD_COLOR), r["text"]) for r in rows]


def heldout_synthetic(n: int = 500, seed: int = 12345) -> list[tuple[np.ndarray, str]]:
    """Lines in font families the training never used, moderately degraded; fixed seed."""
    _, held = split_fonts()
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    out = []
    while len(out) < n and held:
        font = rng.choice(held)
        text = " ".join(random_text(rng, max_len=40).split())
        if not text.isascii():
            continue
        img = render_line(text, font.path, rng)
        out.append((augment(img, nrng, 0.5), text))
    return out


def heldout_screen(n: int = 300, seed: int = 4242) -> list[tuple[np.ndarray, str]]:
    """Screenshot-like lines: held-out font families drawn natively at 10-16 px (UI sizes, hinted and
    anti-aliased, not shrunk), one in four light on dark; nothing else.  A stand-in for the
    screenshots among real documents (``training/screen.py`` says why it differs from a scan)."""
    _, held = split_fonts()
    rng = random.Random(seed)
    out = []
    while len(out) < n and held:
        font = rng.choice(held)
        text = " ".join(random_text(rng, max_len=40).split())
        if not text.isascii() or not text:
            continue
        img = render_line(text, font.path, rng, size=rng.randint(10, 16))
        out.append((255 - img if rng.random() < 0.25 else img, text))
    return out


RENDERED_SETS: dict[str, Callable[[int], list[tuple[np.ndarray, str]]]] = {
    "unseen-fonts": heldout_synthetic,
    "screenshot-like": heldout_screen,
}


def write_rendered_sets(out: Path, n: int | None = None) -> list[Path]:
    """Write the rendered held-out sets as PNG crops + ``manifest.jsonl`` (iiit5k's layout), so the
    peers' bench (``bench/recognition_latency.py --split DIR``, no torch there) reads the very same
    images: ``DIR/unseen-fonts`` (500 lines), ``DIR/screenshot-like`` (300)."""
    written = []
    for name, make in RENDERED_SETS.items():
        folder = out / name
        (folder / "images").mkdir(parents=True, exist_ok=True)
        rows = []
        for i, (img, text) in enumerate(make(n) if n else make()):
            cv2.imwrite(str(folder / "images" / f"{i:04d}.png"), img)
            rows.append(json.dumps({"image": f"images/{i:04d}.png", "text": text}, ensure_ascii=False))
        (folder / "manifest.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
        written.append(folder)
    return written


def score(rec: Recognizer, items: list[tuple[np.ndarray, str]], single_n: int = 100) -> dict[str, float]:
    crops = [im for im, _ in items]
    t = time.perf_counter()
    preds = [r.text for r in rec.recognize(crops)]
    batch_ms = (time.perf_counter() - t) * 1000 / max(1, len(crops))
    t = time.perf_counter()
    for im in crops[:single_n]:
        rec.recognize([im])
    single_ms = (time.perf_counter() - t) * 1000 / max(1, min(single_n, len(crops)))
    pairs = list(zip(preds, [t for _, t in items], strict=True))
    return {
        "lines": len(items),
        "cer": cer(pairs),
        "cer_ci": cer(pairs, normalise=True),
        "cer_alnum": cer(pairs, alnum=True),
        "line_acc": line_accuracy(pairs),
        "line_acc_ci": line_accuracy(pairs, normalise=True),
        "ms_per_line_batch": batch_ms,
        "ms_per_line_single": single_ms,
    }


def print_table(results: dict[str, dict[str, float]]) -> None:
    head = (
        f"{'set':<31}{'lines':>7}{'CER cs':>8}{'CER ci':>9}{'alnum':>8}{'line acc':>10}{'acc ci':>8}"
        f"{'ms/line b':>11}{'ms/line 1':>11}"
    )
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        print(
            f"{name:<31}{r['lines']:>7}{r['cer']:>8.2%}{r['cer_ci']:>9.2%}{r['cer_alnum']:>8.2%}{r['line_acc']:>10.2%}"
            f"{r['line_acc_ci']:>8.2%}{r['ms_per_line_batch']:>11.2f}{r['ms_per_line_single']:>11.2f}"
        )


def compare_runtimes(checkpoint: Path, n: int = 300) -> dict[str, dict[str, float]]:
    """ms/line of torch eager, TorchScript and ONNX Runtime on the same sroie-dev crops (batch 32 and 1)."""
    import tempfile

    import onnxruntime as ort
    import torch

    from ocr_server.recognition.charset import Charset
    from ocr_server.recognition.lines import pad_batch, prepare_line

    from .export import export_onnx, export_torchscript, load_checkpoint
    from .model import INPUT_HEIGHT, CRNNWithSoftmax

    model, _ = load_checkpoint(checkpoint, Charset.default())
    crops = [prepare_line(im, INPUT_HEIGHT) for im, _ in sroie_dev(n)]
    crops.sort(key=lambda x: x.shape[1])
    batches = [pad_batch(crops[i : i + 32]) for i in range(0, len(crops), 32)]
    singles = [pad_batch([c]) for c in crops[:100]]
    tmp = Path(tempfile.mkdtemp())
    export_onnx(model, tmp / "m.onnx")
    export_torchscript(model, tmp / "m.ts")
    eager = CRNNWithSoftmax(model).eval()
    script = torch.jit.load(str(tmp / "m.ts"))
    sess = ort.InferenceSession(str(tmp / "m.onnx"), providers=["CPUExecutionProvider"])
    runners = {
        "torch eager": lambda x: eager(torch.from_numpy(x)),
        "torchscript": lambda x: script(torch.from_numpy(x)),
        "onnxruntime": lambda x: sess.run(None, {"image": x}),
    }
    out: dict[str, dict[str, float]] = {}
    with torch.no_grad():
        for name, run in runners.items():
            run(batches[0])
            t = time.perf_counter()
            for b in batches:
                run(b)
            b_ms = (time.perf_counter() - t) * 1000 / len(crops)
            t = time.perf_counter()
            for s in singles:
                run(s)
            s_ms = (time.perf_counter() - t) * 1000 / len(singles)
            out[name] = {"ms_per_line_batch32": round(b_ms, 3), "ms_per_line_single": round(s_ms, 3)}
            print(f"{name:<14} batch32 {b_ms:7.2f} ms/line   single {s_ms:7.2f} ms/line", flush=True)
    return out


def evaluate_zh(rec: Recognizer, limit: int | None, decoder: str, threads: int) -> dict[str, dict[str, float]]:
    from .zh.evaluation import eval_sets, score, table

    results = {
        name: score(lambda crops: [r.text for r in rec.recognize(crops)], items)
        for name, items in eval_sets(limit).items()
    }
    print(f"model {rec.info.name}-{rec.info.version}, decoder {decoder}, {threads} threads")
    print(table(results))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=["en", "zh"], default="en", help="which sets to score (language)")
    ap.add_argument("--model", help="bundle name (default: crnn-en, or crnn-zh with --profile zh)")
    ap.add_argument("--version", help=f"bundle version (default for crnn-en: {DEFAULT_MODEL_VERSION})")
    ap.add_argument("--models-dir", default=None)
    ap.add_argument("--limit", type=int, default=None, help="lines per set (default: all)")
    ap.add_argument("--decoder", choices=["greedy", "beam"], default="greedy")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--reread-below",
        type=float,
        default=DEFAULT_REREAD_BELOW,
        help=f"read lines below this confidence again at other widths, as the server does (default "
        f"{DEFAULT_REREAD_BELOW}; 0: never)",
    )
    ap.add_argument("--json", type=Path)
    ap.add_argument("--compare-runtimes", action="store_true")
    ap.add_argument("--checkpoint", type=Path, help="for --compare-runtimes")
    ap.add_argument(
        "--write-sets",
        type=Path,
        metavar="DIR",
        help="only write the rendered held-out sets (unseen fonts, screenshot-like) as PNG + manifest.jsonl "
        "for bench/recognition_latency.py --split DIR/<set>",
    )
    args = ap.parse_args(argv)
    if args.write_sets:
        for folder in write_rendered_sets(args.write_sets, args.limit):
            print(f"wrote {folder}")
        return 0
    if args.compare_runtimes:
        if not args.checkpoint:
            ap.error("--compare-runtimes needs --checkpoint")
        res = compare_runtimes(args.checkpoint)
        if args.json:
            args.json.write_text(json.dumps(res, indent=2))
        return 0
    if args.profile == "zh":
        args.model = args.model or "crnn-zh"
        if not args.version:
            ap.error("--profile zh needs --version (no crnn-zh bundle is the default)")
    args.model = args.model or "crnn-en"
    args.version = args.version or DEFAULT_MODEL_VERSION
    rec = load_recognizer(
        args.model,
        args.version,
        args.models_dir,
        decoder=args.decoder,
        threads=args.threads,
        reread_below=args.reread_below,
    )
    rec.warmup()
    if args.profile == "zh":
        results = evaluate_zh(rec, args.limit, args.decoder, args.threads)
        for r in results.values():
            r["reread_below"] = args.reread_below  # the card says how the figures were read
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return 0
    sets = {
        "funsd-val lines (forms)": funsd_val(args.limit),
        "iiit5k words": iiit5k(args.limit),
        "synthetic, unseen fonts": heldout_synthetic(args.limit or 500),
        "screenshot-like, unseen fonts": heldout_screen(args.limit or 300),
        "sroie-dev lines (UPPER)": sroie_dev(args.limit),
    }
    results = {name: score(rec, items) | {"reread_below": args.reread_below} for name, items in sets.items()}
    print(f"model {rec.info.name}-{rec.info.version}, decoder {args.decoder}, {args.threads} threads")
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
