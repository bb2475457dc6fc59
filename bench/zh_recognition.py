"""Chinese line recognition side by side: our ``crnn-zh`` bundle and RapidOCR's bundled
recognizer (PP-OCRv4 Chinese rec, ``ch_PP-OCRv4_rec_infer.onnx``, its default) on the same
held-out lines, in one run.

The lines are ``make evaluate MODEL=crnn-zh``'s (``training/zh/evaluation.py``): 1,000 held-out
sentences and 300 invoice/receipt fields, rendered in the font families the training never used.
Only line recognition is measured (no detection, no angle classifier) for both engines, with the
same thread budget.  CER strict and normalised as ``training/zh/scoring.py`` defines them;
*batch*: every crop in one call (ours batches 32, RapidOCR its own 6); *single*: one crop a call.

    make bench-zh VERSION=1.0.0
    .venv-bench/bin/python bench/zh_recognition.py --version 1.0.0 [--models-dir DIR] [--lines 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import format_table, thread_env, write_json
from training.zh.evaluation import eval_sets, score

Recognize = Callable[[list[np.ndarray]], list[str]]


def ours(name: str, version: str, models_dir: str | None, threads: int, batch: int) -> tuple[str, Recognize]:
    from ocr_server.recognition.recognizer import load_recognizer

    rec = load_recognizer(name, version, models_dir, batch_size=batch, threads=threads)
    rec.warmup()
    settings = f"{name}-{version} ONNX Runtime, greedy CTC, batch {batch}, {threads} threads"
    return settings, lambda crops: [r.text for r in rec.recognize(crops)]


def rapidocr(threads: int) -> tuple[str, Recognize]:
    import cv2
    import rapidocr_onnxruntime
    import yaml
    from rapidocr_onnxruntime import RapidOCR

    text_rec = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1).text_rec
    # the recognizer it loads by default, as its packaged config names it
    config = yaml.safe_load((Path(rapidocr_onnxruntime.__file__).parent / "config.yaml").read_text())
    model = Path(config["Rec"]["model_path"]).name

    def run(crops: list[np.ndarray]) -> list[str]:
        bgr = [cv2.cvtColor(c, cv2.COLOR_GRAY2BGR) if c.ndim == 2 else c for c in crops]
        results, _ = text_rec(bgr)
        return [str(r[0]) for r in results]

    return f"rapidocr_onnxruntime TextRecognizer ({model}), batch {text_rec.rec_batch_num}, {threads} threads", run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="crnn-zh")
    ap.add_argument("--version", required=True)
    ap.add_argument("--models-dir", default=None)
    ap.add_argument("--lines", type=int, default=0, help="lines per set (0: all, 1,000 + 300)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--engines", default="ours,rapidocr")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    os.environ.update(thread_env(args.threads))

    sets = eval_sets(args.lines or None)
    factories = {
        "ours": lambda: ours(args.model, args.version, args.models_dir, args.threads, args.batch),
        "rapidocr": lambda: rapidocr(args.threads),
    }
    rows, settings = [], {}
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        if engine not in factories:
            ap.error(f"unknown engine {engine!r}; known: {', '.join(factories)}")
        settings[engine], run = factories[engine]()
        for set_name, items in sets.items():
            print(f"  {engine}: {set_name} ({len(items)} lines) ...", file=sys.stderr)
            rows.append({"engine": engine, "set": set_name, **score(run, items)})
    print(f"threads/engine={args.threads} cores={os.cpu_count()}")
    for engine, text in settings.items():
        print(f"  {engine:<9} {text}")
    print(
        format_table(
            [
                [r["engine"], r["set"], r["lines"], r["cer"], r["cer_norm"], r["line_acc_norm"],
                 r["ms_per_line_batch"], r["ms_per_line_single"]]
                for r in rows
            ],
            ["engine", "set", "lines", "CER", "CER norm", "line acc norm", "batch ms/line", "single ms/line"],
        )
    )  # fmt: skip
    for r in rows:  # where the errors are: Latin words inside Chinese lines, separator rows, Chinese
        if len(r["by_kind"]) > 1:
            kinds = "; ".join(f"{k} {v['cer_norm']:.2%} ({v['lines']})" for k, v in r["by_kind"].items())
            print(f"  {r['engine']}, {r['set']}: normalised CER by kind: {kinds}")
    if args.json:
        write_json(args.json, {"threads": args.threads, "settings": settings, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
