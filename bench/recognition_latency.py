"""Line recognition alone: ms per line (batched and one at a time) and CER on sroie-dev line crops,
or with ``--split iiit5k-train`` on scene-text word crops (in colour).

Crops follow the dataset's protocol (each ``lines.jsonl`` box grown by 10 % of its height, at least
2 px, clipped to the page), decoded once up front so no engine pays for JPEG decoding.

* ``ours``       ``ocr_server.recognition.recognizer`` (ONNX Runtime), ``recognize(crops)``, in process.
* ``ours-http``  ``POST /api/v1/recognize`` on a real gunicorn (1 worker, loopback): crops sent as PNG
                 multipart fields, up to ``limits.maxImagesPerRequest`` (64) per request.
* ``rapidocr``   RapidOCR 1.4.4's recognizer only (``TextRecognizer``, PP-OCRv4 rec), no det/cls.
* ``tesseract``  Debian's tesseract CLI with ``--psm 7`` (one text line).  *single*: one process per
                 line (crop piped as PNG); *batch*: one process over a list file of all crops.

Tesseract runs with ``OMP_THREAD_LIMIT=1`` by default (``--tesseract-threads``): with 2 OpenMP
threads its spin-waiting made one line take 2-5 s instead of 0.1 s on this busy 2-core machine.

*batch* hands an engine all the crops in one call (ours batches ``--batch`` crops, RapidOCR its own 6);
*single* calls it once per crop.  Every engine gets the same thread budget (``--threads``).

    nice python bench/recognition_latency.py --lines 100
    nice python bench/recognition_latency.py --json recognition_latency.json     # 500 lines
    nice python bench/recognition_latency.py --split iiit5k-train --lines 0      # 2000 scene words
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    CerCounter,
    Stopwatch,
    dataset_dir,
    format_table,
    iter_line_crops,
    latency_summary,
    load_lines,
    load_word_crops,
    thread_env,
    write_json,
)

ENGINES = ("ours", "ours-http", "rapidocr", "tesseract")
HTTP_MAX_IMAGES = 64

BatchFn = Callable[[list[np.ndarray]], list[str]]


@dataclass
class Recognizer:
    """``batch(crops) -> texts``; ``single(crop) -> text`` defaults to a batch of one."""

    name: str
    settings: str
    batch: BatchFn
    single: Callable[[np.ndarray], str] | None = None

    def one(self, crop: np.ndarray) -> str:
        return self.single(crop) if self.single else self.batch([crop])[0]


def ours(threads: int, batch_size: int) -> Recognizer:
    import cv2

    from ocr_server.config import load_config
    from ocr_server.recognition.recognizer import load_recognizer

    cv2.setNumThreads(threads)
    cfg = load_config()
    rec = load_recognizer(
        cfg.model.name, cfg.model.version, cfg.model.models_dir,
        decoder=cfg.recognition.decoder, beam_width=cfg.recognition.beam_width, batch_size=batch_size, threads=threads,
    )  # fmt: skip
    rec.warmup()
    return Recognizer(
        "ours",
        f"{cfg.model.name}-{cfg.model.version} ONNX Runtime, {cfg.recognition.decoder} CTC, batch {batch_size}, "
        f"{threads} threads",
        lambda crops: [r.text for r in rec.recognize(crops)],
    )


def ours_http(threads: int, stack: list[Any]) -> Recognizer:
    """The recognize endpoint of a real server; PNG encoding is done here, outside the timing's
    control, as a client would (it is part of what a caller pays)."""
    import cv2
    import requests

    from bench.server import running_server

    ctx = running_server(workers=1, threads=threads)
    url = ctx.__enter__()
    stack.append(ctx)
    session = requests.Session()

    def post(crops: list[np.ndarray]) -> list[str]:
        files = [
            ("image", (f"{i}.png", cv2.imencode(".png", c)[1].tobytes(), "image/png")) for i, c in enumerate(crops)
        ]
        resp = session.post(f"{url}/api/v1/recognize", files=files, timeout=120)
        resp.raise_for_status()
        return [str(r["text"]) for r in resp.json()["results"]]

    def batch(crops: list[np.ndarray]) -> list[str]:
        out: list[str] = []
        for start in range(0, len(crops), HTTP_MAX_IMAGES):
            out += post(crops[start : start + HTTP_MAX_IMAGES])
        return out

    return Recognizer(
        "ours-http",
        f"POST /api/v1/recognize, gunicorn 1 worker, {threads} threads, <= {HTTP_MAX_IMAGES}/request",
        batch,
    )


def rapidocr(threads: int, batch_size: int) -> Recognizer:
    """RapidOCR's recognizer; ``batch_size`` 0 keeps its own default (6, which suits its padding:
    a batch is padded to its widest crop)."""
    import cv2
    from rapidocr_onnxruntime import RapidOCR

    text_rec = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1).text_rec
    if batch_size:
        text_rec.rec_batch_num = batch_size
    batch_size = text_rec.rec_batch_num

    def batch(crops: list[np.ndarray]) -> list[str]:
        bgr = [cv2.cvtColor(c, cv2.COLOR_GRAY2BGR) if c.ndim == 2 else c for c in crops]
        results, _ = text_rec(bgr)
        return [str(r[0]) for r in results]

    return Recognizer("rapidocr", f"rapidocr_onnxruntime 1.4.4 TextRecognizer, batch {batch_size}, {threads} threads",
                      batch)  # fmt: skip


def tesseract(threads: int) -> Recognizer:
    import cv2

    env = dict(os.environ) | thread_env(threads)
    base = ["-l", "eng", "--psm", "7"]

    def single(crop: np.ndarray) -> str:
        ok, png = cv2.imencode(".png", crop)
        if not ok:
            raise ValueError("cannot encode crop")
        out = subprocess.run(["tesseract", "stdin", "stdout", *base], input=png.tobytes(), capture_output=True,
                             env=env, check=True)  # fmt: skip
        return out.stdout.decode("utf-8", "replace").strip()

    def batch(crops: list[np.ndarray]) -> list[str]:
        with tempfile.TemporaryDirectory(prefix="bench-tess-") as tmp:
            paths = []
            for i, crop in enumerate(crops):
                path = Path(tmp) / f"{i:05d}.png"
                cv2.imwrite(str(path), crop)
                paths.append(str(path))
            listing = Path(tmp) / "list.txt"
            listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
            out = subprocess.run(["tesseract", str(listing), "stdout", *base], capture_output=True, env=env,
                                 check=True)  # fmt: skip
        pages = out.stdout.decode("utf-8", "replace").split("\f")
        texts = [p.strip() for p in pages[: len(crops)]]
        return texts + [""] * (len(crops) - len(texts))

    return Recognizer("tesseract", f"tesseract CLI --psm 7, OMP_THREAD_LIMIT={threads}", batch, single)


def measure(engine: Recognizer, crops: list[np.ndarray], truth: list[str]) -> dict[str, Any]:
    """Batch pass (total time / lines) then single pass (per-line times), each with its CER."""
    engine.one(crops[0])  # warm-up
    with Stopwatch() as sw:
        batch_texts = engine.batch(crops)
    batch_cer = CerCounter()
    for hyp, ref in zip(batch_texts, truth, strict=True):
        batch_cer.add(hyp, ref)
    single_s: list[float] = []
    single_cer = CerCounter()
    for crop, ref in zip(crops, truth, strict=True):
        with Stopwatch() as one:
            text = engine.one(crop)
        single_s.append(one.seconds)
        single_cer.add(text, ref)
    lat = latency_summary(single_s)
    return {
        "engine": engine.name,
        "settings": engine.settings,
        "lines": len(crops),
        "batch_ms_per_line": sw.seconds * 1000 / len(crops),
        "batch_lines_per_s": len(crops) / sw.seconds if sw.seconds else float("nan"),
        "single_ms_mean": lat["mean_ms"],
        "single_ms_p50": lat["p50_ms"],
        "single_ms_p95": lat["p95_ms"],
        "cer": batch_cer.cer_norm,
        "cer_raw": batch_cer.cer,
        "cer_alnum": batch_cer.cer_alnum,
        "cer_single": single_cer.cer_norm,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="sroie-dev")
    ap.add_argument("--lines", type=int, default=500, help="evenly subsample this many lines (0: all)")
    ap.add_argument("--threads", type=int, default=2, help="threads per engine (default 2)")
    ap.add_argument("--batch", type=int, default=32, help="lines per inference batch for ours (default 32)")
    ap.add_argument("--rapid-batch", type=int, default=0, help="RapidOCR's batch; 0 keeps its default (6)")
    ap.add_argument("--tesseract-threads", type=int, default=1, help="OMP_THREAD_LIMIT for Tesseract (default 1)")
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated subset of {','.join(ENGINES)}")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args(argv)

    os.environ.update(thread_env(args.threads))
    if (dataset_dir(args.split) / "manifest.jsonl").is_file():  # word crops (iiit5k-train)
        pairs = load_word_crops(args.split, args.lines or None)
    else:
        pairs = list(iter_line_crops(load_lines(args.split, args.lines or None), gray=True))
    crops, truth = [c for c, _ in pairs], [t for _, t in pairs]
    stack: list[Any] = []
    factories: dict[str, Callable[[], Recognizer]] = {
        "ours": lambda: ours(args.threads, args.batch),
        "ours-http": lambda: ours_http(args.threads, stack),
        "rapidocr": lambda: rapidocr(args.threads, args.rapid_batch),
        "tesseract": lambda: tesseract(args.tesseract_threads),
    }
    rows = []
    try:
        for name in [n.strip() for n in args.engines.split(",") if n.strip()]:
            if name not in factories:
                ap.error(f"unknown engine {name!r}")
            try:
                engine = factories[name]()
            except Exception as err:
                print(f"skipping {name}: {type(err).__name__}: {err}", file=sys.stderr)
                continue
            print(f"  measuring {name} on {len(crops)} lines ...", file=sys.stderr)
            rows.append(measure(engine, crops, truth))
            for ctx in reversed(stack):  # stop a server before the next engine is timed
                ctx.__exit__(None, None, None)
            stack.clear()
    finally:
        for ctx in reversed(stack):
            ctx.__exit__(None, None, None)

    print(f"split={args.split} lines={len(crops)} threads/engine={args.threads} cores={os.cpu_count()}")
    for r in rows:
        print(f"  {r['engine']:<10} {r['settings']}")
    print(format_table(
        [[r["engine"], r["batch_ms_per_line"], r["batch_lines_per_s"], r["single_ms_p50"], r["single_ms_p95"],
          r["cer"], r["cer_raw"], r["cer_alnum"]] for r in rows],
        ["engine", "batch ms/line", "batch lines/s", "single p50 ms", "single p95 ms", "CER", "CER raw", "CER alnum"],
    ))  # fmt: skip
    if args.json:
        write_json(args.json, {"split": args.split, "lines": len(crops), "threads": args.threads, "engines": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
