"""Shared pieces of the benchmarks: dataset loading, line crops, CER, box matching, tables.

Kept free of torch, Flask and the server so that the model engineer's evaluation script (and any
notebook) can import it cheaply: numpy, OpenCV and, when installed, ``rapidfuzz`` only.

CER comes from :mod:`ocr_server.recognition.scoring`, the definition the model evaluation uses too.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ocr_server import shared_data
from ocr_server.recognition.lines import crop_box  # the one crop recipe, shared with the server
from ocr_server.recognition.scoring import (  # the one CER definition
    alnum_fold,
    collapse_whitespace,
    edit_distance,
    normalize_text,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ENV_VAR = shared_data.ENV_VAR

Box = tuple[int, int, int, int]


def data_root() -> Path:
    """Folder holding the shared datasets: ``$OCR_SHARED_DATA`` or ``<repo>/../shared/data``
    (one definition, :mod:`ocr_server.shared_data`, for tests, benchmarks and training)."""
    return shared_data.data_root()


def dataset_dir(split: str | os.PathLike[str]) -> Path:
    """``"sroie-dev"`` → its folder under :func:`data_root`; an existing path is used as it is."""
    p = Path(split)
    if p.is_file():
        return p.parent
    if p.is_dir():
        return p
    return data_root() / str(split)


# ---------------------------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class GtLine:
    """One ground-truth line: its axis-aligned box (exclusive ends not guaranteed; SROIE's are inclusive) and text."""

    box: Box
    text: str


@dataclass(frozen=True)
class Page:
    """One page of a ``pages.jsonl`` file; ``lines`` are in the file's (reading) order."""

    image_path: Path
    width: int
    height: int
    lines: tuple[GtLine, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return self.image_path.name

    @property
    def text(self) -> str:
        """Ground-truth page text, lines in reading order (see :func:`reading_order_indices`), one per line."""
        order = reading_order_indices([line.box for line in self.lines])
        return page_text(self.lines[i].text for i in order)

    @property
    def text_file_order(self) -> str:
        """Ground-truth page text in the file's order (the annotators' order, often column by column)."""
        return page_text(line.text for line in self.lines)


def reading_order_indices(boxes: Sequence[Box], row_overlap: float = 0.5) -> list[int]:
    """Indices of ``boxes`` in reading order: rows top to bottom, left to right within a row.

    The reference order for page CER.  Why not the file's order: SROIE's annotators often listed
    a block of labels before their values (``INVOICE NO / POS NO / CASHIER`` then the three values),
    so the same correct text in row order scores about 8 % CER against the file order, which would
    swamp the differences between engines.  A box joins the current row while its vertical centre
    lies within ``row_overlap`` × the row's mean height of the row's mean centre (the rule the
    detector uses too, kept separately here so the reference does not move when the detector does).
    """
    by_centre = sorted(range(len(boxes)), key=lambda i: (boxes[i][1] + boxes[i][3], boxes[i][0]))
    rows: list[list[int]] = []
    centre_sum = height_sum = 0.0
    for i in by_centre:
        b = boxes[i]
        yc, h = (b[1] + b[3]) / 2.0, float(b[3] - b[1])
        if rows and abs(yc - centre_sum / len(rows[-1])) <= row_overlap * height_sum / len(rows[-1]):
            rows[-1].append(i)
            centre_sum += yc
            height_sum += h
            continue
        rows.append([i])
        centre_sum, height_sum = yc, h
    return [i for row in rows for i in sorted(row, key=lambda k: boxes[k][0])]


def box_from_poly(poly: Sequence[int]) -> Box:
    """Bounding box of an 8-int polygon.

    Why not the file's ``box``: in sroie-train about half the ``box`` fields are broken (zero height,
    ``y1 == y2``), while the ``poly`` fields are right in both splits (and equal ``box`` in sroie-dev).
    """
    xs, ys = poly[0::2], poly[1::2]
    return (int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys)))


def _parse_line(raw: dict[str, Any]) -> GtLine:
    box = box_from_poly(raw["poly"]) if raw.get("poly") else tuple(int(v) for v in raw["box"])
    return GtLine(box=box, text=str(raw["text"]))  # type: ignore[arg-type]


def load_pages(split: str | os.PathLike[str] = "sroie-dev", limit: int | None = None) -> list[Page]:
    """Read ``<split>/pages.jsonl``; ``limit`` takes an evenly spaced subsample (deterministic).

    ``split`` may also name a split of ``training.splits.SPLITS`` (``funsd-val``: our validation forms)."""
    from training.splits import SPLITS  # torch-free

    folder_name, keep = SPLITS.get(str(split), (split, None))
    folder = dataset_dir(folder_name)
    with open(folder / "pages.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    if keep is not None:
        rows = [r for r in rows if keep(r["image"])]
    pages = [
        Page(
            image_path=folder / row["image"],
            width=int(row["width"]),
            height=int(row["height"]),
            lines=tuple(_parse_line(r) for r in row["lines"]),
        )
        for row in rows
    ]
    return subsample(pages, limit)


def subsample(items: Sequence[Any], limit: int | None) -> list[Any]:
    """``limit`` evenly spaced items (all when ``limit`` is falsy or not smaller than the list)."""
    if not limit or limit >= len(items):
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def load_image(path: str | os.PathLike[str], gray: bool = False) -> np.ndarray:
    """Decode an image file with OpenCV (BGR, or gray when ``gray``); raises ``FileNotFoundError``."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return img


# ---------------------------------------------------------------------------------------------- lines


@dataclass(frozen=True)
class LineSample:
    """One row of ``lines.jsonl``: the page it is on, its box and text."""

    page: Path
    box: Box
    text: str


def load_lines(split: str | os.PathLike[str] = "sroie-dev", limit: int | None = None) -> list[LineSample]:
    """Read ``<split>/lines.jsonl`` (evenly subsampled to ``limit`` lines).

    Lines with an empty box (sroie-train has thousands: see :func:`box_from_poly`) are skipped.
    """
    folder = dataset_dir(split)
    out = []
    with open(folder / "lines.jsonl", encoding="utf-8") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            row = json.loads(raw)
            x1, y1, x2, y2 = (int(v) for v in row["box"])
            if x2 <= x1 or y2 <= y1:
                continue
            out.append(LineSample(page=folder / row["page"], box=(x1, y1, x2, y2), text=str(row["text"])))
    return subsample(out, limit)


def load_word_crops(split: str | os.PathLike[str], limit: int | None = None) -> list[tuple[np.ndarray, str]]:
    """``(BGR image, text)`` of a word-crop set with a ``manifest.jsonl`` (iiit5k), evenly subsampled.

    Colour is kept: scene text is coloured, and each engine converts as it would in production.
    """
    folder = dataset_dir(split)
    with open(folder / "manifest.jsonl", encoding="utf-8") as fh:
        rows = subsample([json.loads(line) for line in fh if line.strip()], limit)
    return [(load_image(folder / r["image"]), str(r["text"])) for r in rows]


def crop_lines(image: np.ndarray, boxes: Iterable[Box], margin: float = 0.1, min_margin: int = 2) -> list[np.ndarray]:
    """:func:`crop_box` for many boxes of one image (views, not copies)."""
    return [crop_box(image, b, margin, min_margin) for b in boxes]


def iter_line_crops(samples: Sequence[LineSample], gray: bool = True) -> Iterator[tuple[np.ndarray, str]]:
    """``(crop, text)`` for each sample, decoding every page once (samples grouped by page)."""
    by_page: dict[Path, list[LineSample]] = {}
    for s in samples:
        by_page.setdefault(s.page, []).append(s)
    for page, group in by_page.items():
        img = load_image(page, gray=gray)
        for s in group:
            yield crop_box(img, s.box), s.text


# ---------------------------------------------------------------------------------------------- text


def page_text(lines: Iterable[str]) -> str:
    """Join line texts into page text (one line per line)."""
    return "\n".join(lines)


@dataclass
class CerCounter:
    """Accumulates corpus CER = Σ edit distance / Σ reference length, both raw and normalised.

    A corpus ratio (not a mean of per-item ratios) so that short items don't dominate.
    """

    errors: int = 0
    chars: int = 0
    errors_norm: int = 0
    chars_norm: int = 0
    errors_alnum: int = 0
    chars_alnum: int = 0
    errors_cs: int = 0
    chars_cs: int = 0
    items: int = 0

    def add(self, hyp: str, ref: str) -> None:
        self.errors += edit_distance(hyp, ref)
        self.chars += len(ref)
        hn, rn = normalize_text(hyp), normalize_text(ref)
        self.errors_norm += edit_distance(hn, rn)
        self.chars_norm += len(rn)
        hc, rc = collapse_whitespace(hyp), collapse_whitespace(ref)
        self.errors_cs += edit_distance(hc, rc)
        self.chars_cs += len(rc)
        ha, ra = alnum_fold(hyp), alnum_fold(ref)
        self.errors_alnum += edit_distance(ha, ra)
        self.chars_alnum += len(ra)
        self.items += 1

    @property
    def cer(self) -> float:
        """Raw CER (case and whitespace as they are): on pages a line break where the truth has a
        space (the truth cut a row in one place, the detector in another) costs one error."""
        return self.errors / max(1, self.chars)

    @property
    def cer_cs(self) -> float:
        """Case-sensitive CER with whitespace runs collapsed to one space: letter case counts, where
        the lines break does not, so on pages it isolates reading from segmentation conventions."""
        return self.errors_cs / max(1, self.chars_cs)

    @property
    def cer_norm(self) -> float:
        """Case-insensitive, whitespace-collapsed CER: the headline figure for SROIE."""
        return self.errors_norm / max(1, self.chars_norm)

    @property
    def cer_alnum(self) -> float:
        """Case-folded CER on letters and digits only: the scene-word protocol (IIIT5K's truth is alphanumeric)."""
        return self.errors_alnum / max(1, self.chars_alnum)


def cer(hyp: str, ref: str, normalize: bool = True) -> float:
    """CER of one string pair (normalised by default, see :func:`normalize_text`)."""
    if normalize:
        hyp, ref = normalize_text(hyp), normalize_text(ref)
    return edit_distance(hyp, ref) / max(1, len(ref))


# ---------------------------------------------------------------------------------------------- boxes


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two axis-aligned boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def iou_matrix(pred: Sequence[Box], gt: Sequence[Box]) -> np.ndarray:
    """``(len(pred), len(gt))`` IoU matrix, vectorised."""
    if not pred or not gt:
        return np.zeros((len(pred), len(gt)))
    p = np.asarray(pred, dtype=np.float64)[:, None, :]
    g = np.asarray(gt, dtype=np.float64)[None, :, :]
    iw = np.clip(np.minimum(p[..., 2], g[..., 2]) - np.maximum(p[..., 0], g[..., 0]), 0, None)
    ih = np.clip(np.minimum(p[..., 3], g[..., 3]) - np.maximum(p[..., 1], g[..., 1]), 0, None)
    inter = iw * ih
    area_p = (p[..., 2] - p[..., 0]) * (p[..., 3] - p[..., 1])
    area_g = (g[..., 2] - g[..., 0]) * (g[..., 3] - g[..., 1])
    union = area_p + area_g - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def match_boxes(pred: Sequence[Box], gt: Sequence[Box], threshold: float = 0.5) -> int:
    """Number of one-to-one matches with IoU ≥ ``threshold`` (greedy, highest IoU first)."""
    m = iou_matrix(pred, gt)
    if m.size == 0:
        return 0
    pi, gi = np.nonzero(m >= threshold)
    order = np.argsort(-m[pi, gi], kind="stable")
    used_p: set[int] = set()
    used_g: set[int] = set()
    for k in order.tolist():
        a, b = int(pi[k]), int(gi[k])
        if a not in used_p and b not in used_g:
            used_p.add(a)
            used_g.add(b)
    return len(used_p)


@dataclass
class DetectionCounter:
    """Accumulates matches for corpus precision / recall / F1."""

    matched: int = 0
    predicted: int = 0
    truth: int = 0

    def add(self, pred: Sequence[Box], gt: Sequence[Box], threshold: float = 0.5) -> None:
        self.matched += match_boxes(pred, gt, threshold)
        self.predicted += len(pred)
        self.truth += len(gt)

    @property
    def precision(self) -> float:
        return self.matched / max(1, self.predicted)

    @property
    def recall(self) -> float:
        return self.matched / max(1, self.truth)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def scale_boxes(boxes: Iterable[Sequence[float]], sx: float, sy: float) -> list[Box]:
    """Boxes multiplied by per-axis scale factors and rounded."""
    return [(round(b[0] * sx), round(b[1] * sy), round(b[2] * sx), round(b[3] * sy)) for b in boxes]


# ---------------------------------------------------------------------------------------------- timing / output


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / mean in milliseconds and throughput (items per second of busy time)."""
    total = float(sum(seconds))
    return {
        "n": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000,
        "p95_ms": percentile(seconds, 95) * 1000,
        "mean_ms": (statistics.fmean(seconds) * 1000) if seconds else float("nan"),
        "per_s": len(seconds) / total if total > 0 else float("nan"),
    }


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.seconds`` using the monotonic high-resolution clock."""

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain aligned text table (floats with 3 significant decimals) for terminals and READMEs."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            if v != v:  # NaN
                return "-"
            return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
        return str(v)

    cells = [[fmt(v) for v in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in cells
    ]
    return "\n".join([line, sep, *body])


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write figures as indented JSON (NaN becomes null)."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and v != v:
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    Path(path).write_text(json.dumps(clean(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that cap the common native thread pools at ``threads``."""
    n = str(threads)
    return {
        "OMP_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OMP_THREAD_LIMIT": n,  # Tesseract's OpenMP
    }
