"""Line-detection quality and speed on SROIE pages: precision / recall / F1 at IoU 0.5, ms per page.

Each page goes through the server's own preprocessing (deskew off, so that ground-truth boxes stay
valid; scaled to ``maxSide``), then the configured detector; predicted boxes are scaled back to the
stored image's pixels and matched one-to-one with the ground truth.

    nice python bench/detection_eval.py                       # sroie-dev, the reported figure
    nice python bench/detection_eval.py --split sroie-train --pages 100 --set mergeGap=0.9
    nice python bench/detection_eval.py --split sroie-train --tune mergeGap=0.6,0.9,1.2

Tune only on sroie-train; sroie-dev is for the reported figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Box,
    CerCounter,
    DetectionCounter,
    Page,
    Stopwatch,
    crop_lines,
    format_table,
    latency_summary,
    load_image,
    load_pages,
    reading_order_indices,
    scale_boxes,
    write_json,
)
from ocr_server.config import DetectionConfig, OcrConfig, PreprocessingConfig
from ocr_server.detection.opencv import Tuning, detect_lines
from ocr_server.imaging.preprocess import preprocess


def preprocess_page(gray: np.ndarray, cfg: PreprocessingConfig) -> np.ndarray:
    """The server's own preprocessing with deskew off (a rotation would move the truth boxes);
    returns the gray page the detector reads."""
    return preprocess(gray, cfg.model_copy(update={"deskew": False})).gray


@dataclasses.dataclass
class EvalResult:
    counter: DetectionCounter
    detect_s: list[float]
    preprocess_s: list[float]
    cer: CerCounter | None = None


ReadLines = Callable[[list[np.ndarray]], list[str]]


def reference_reader(threads: int = 2) -> ReadLines:
    """A strong, fixed line recognizer (RapidOCR's PP-OCRv4 rec) to score *detection* by page CER.

    Why: IoU against SROIE's idiosyncratic segments is only a proxy; what users see is page text.
    Reading our boxes and the truth boxes with the same good recognizer isolates what the detector
    (missed text, split words, merged rows, junk lines, reading order) costs in CER, independent of
    how far our own model's training has come.
    """
    import cv2
    from rapidocr_onnxruntime import RapidOCR

    rec = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1).text_rec

    def read(crops: list[np.ndarray]) -> list[str]:
        if not crops:
            return []
        results, _ = rec([cv2.cvtColor(c, cv2.COLOR_GRAY2BGR) for c in crops])
        return [str(r[0]) for r in results]

    return read


def page_cer_of_boxes(img: np.ndarray, boxes: list[Box], read: ReadLines) -> str:
    """Page text of ``boxes`` (already in reading order) read by ``read`` from the server's crops."""
    crops = [c for c in crop_lines(img, boxes) if c.size]
    return "\n".join(read(crops))


def prepare(pages: list[Page], pre_cfg: PreprocessingConfig) -> list[tuple[Page, np.ndarray, float, float, float]]:
    """Decode and preprocess each page once: ``(page, image, sx, sy, seconds)`` with the scale back to file pixels."""
    out = []
    for page in pages:
        gray = load_image(page.image_path, gray=True)
        with Stopwatch() as sw:
            img = preprocess_page(gray, pre_cfg)
        sy, sx = gray.shape[0] / img.shape[0], gray.shape[1] / img.shape[1]
        out.append((page, img, sx, sy, sw.seconds))
    return out


def evaluate(
    prepared: list[tuple[Page, np.ndarray, float, float, float]],
    cfg: DetectionConfig,
    tuning: Tuning,
    iou: float = 0.5,
    read: ReadLines | None = None,
) -> EvalResult:
    """Detect on every prepared page and accumulate matches and timings (and page CER with ``read``)."""
    counter = DetectionCounter()
    cer = CerCounter() if read else None
    det_s: list[float] = []
    for page, img, sx, sy, _ in prepared:
        with Stopwatch() as sw:
            boxes = detect_lines(img, cfg, tuning)
        det_s.append(sw.seconds)
        counter.add(scale_boxes(boxes, sx, sy), [ln.box for ln in page.lines], iou)
        if cer is not None and read is not None:
            cer.add(page_cer_of_boxes(img, boxes, read), page.text)
    return EvalResult(counter, det_s, [p[4] for p in prepared], cer)


def truth_cer(prepared: list[tuple[Page, np.ndarray, float, float, float]], read: ReadLines) -> CerCounter:
    """Page CER of the ground-truth boxes read by the same recognizer: the floor a detector can reach."""
    cer = CerCounter()
    for page, img, sx, sy, _ in prepared:
        truth = [page.lines[i].box for i in reading_order_indices([ln.box for ln in page.lines])]
        boxes = scale_boxes(truth, 1 / sx, 1 / sy)
        cer.add(page_cer_of_boxes(img, boxes, read), page.text)
    return cer


def parse_assignments(items: list[str]) -> dict[str, list[str]]:
    """``name=v1,v2`` → ``{name: [v1, v2]}``; names are DetectionConfig fields (camel or snake) or Tuning fields."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, _, values = item.partition("=")
        if not values:
            raise SystemExit(f"expected NAME=VALUE[,VALUE...], got {item!r}")
        out[key.strip()] = values.split(",")
    return out


def split_settings(settings: dict[str, str]) -> tuple[dict[str, Any], dict[str, float]]:
    """Route each setting to the DetectionConfig (validated) or to Tuning."""
    tuning_types = {f.name: f.type for f in dataclasses.fields(Tuning)}
    det: dict[str, Any] = {}
    tun: dict[str, Any] = {}
    for key, value in settings.items():
        snake = "".join("_" + c.lower() if c.isupper() else c for c in key)
        if snake in tuning_types:
            is_bool = tuning_types[snake] in (bool, "bool")
            tun[snake] = value.lower() in ("1", "true", "yes") if is_bool else float(value)
        else:
            det[snake] = value
    return det, tun


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="sroie-dev", help="dataset folder name or path (default sroie-dev)")
    ap.add_argument("--pages", type=int, default=None, help="evenly subsample this many pages")
    ap.add_argument("--iou", type=float, default=0.5)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a DetectionConfig field or a detector Tuning constant",
    )
    ap.add_argument(
        "--tune",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="grid-search these values (sroie-train only, please)",
    )
    ap.add_argument(
        "--cer",
        action="store_true",
        help="also page CER of the detected boxes read by RapidOCR's recognizer (slow; needs rapidocr_onnxruntime)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args(argv)

    base = OcrConfig()
    fixed = {k: v[0] for k, v in parse_assignments(args.set).items()}
    grid = parse_assignments(args.tune)
    if grid and "dev" in str(args.split):
        print("warning: tuning on a validation split; use --split sroie-train", file=sys.stderr)

    pages = load_pages(args.split, args.pages)
    prepared = prepare(pages, base.preprocessing)
    read = reference_reader() if args.cer else None
    floor = truth_cer(prepared, read) if read else None
    rows = []
    results = []
    keys = list(grid)
    for combo in itertools.product(*(grid[k] for k in keys)) if keys else [()]:
        settings = dict(fixed) | dict(zip(keys, combo, strict=True))
        det_over, tun_over = split_settings(settings)
        cfg = DetectionConfig.model_validate(base.detection.model_dump() | det_over)
        tuning = dataclasses.replace(Tuning(), **tun_over)
        res = evaluate(prepared, cfg, tuning, args.iou, read)
        lat = latency_summary(res.detect_s)
        c = res.counter
        label = " ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"
        page_cer = res.cer.cer_norm if res.cer else float("nan")
        rows.append([label, c.recall, c.precision, c.f1, page_cer, lat["mean_ms"], lat["p95_ms"]])
        results.append(
            {
                "settings": settings,
                "recall": c.recall,
                "precision": c.precision,
                "f1": c.f1,
                "matched": c.matched,
                "predicted": c.predicted,
                "truth": c.truth,
                "detect_ms_mean": lat["mean_ms"],
                "detect_ms_p50": lat["p50_ms"],
                "detect_ms_p95": lat["p95_ms"],
                "reference_page_cer": page_cer,
            }
        )
    pre = latency_summary(prepared and [p[4] for p in prepared])
    print(
        f"split={args.split} pages={len(pages)} iou={args.iou} maxSide={base.preprocessing.max_side} "
        f"preprocess mean {pre['mean_ms']:.1f} ms/page (not included below)"
    )
    if floor is not None:
        print(f"page CER of the truth boxes read by the reference recognizer (the floor): {floor.cer_norm:.4f}")
    print(format_table(rows, ["settings", "recall", "precision", "F1", "ref page CER", "ms/page", "p95 ms"]))
    if args.json:
        write_json(
            args.json,
            {
                "split": str(args.split),
                "pages": len(pages),
                "iou": args.iou,
                "truth_boxes_reference_page_cer": floor.cer_norm if floor else None,
                "runs": results,
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
