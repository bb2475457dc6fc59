"""Training samples: synthetic lines rendered on the fly, real receipt lines from sroie-train and
real mixed-case form lines from funsd-train.

All yield ``(image uint8 HxW gray, text, case_blind)``.  ``case_blind`` marks labels that are
upper-case only by annotation convention (SROIE), for which the loss folds upper- and lower-case
probabilities together so the network is not taught to shout.  FUNSD's labels keep the real case
of real office scans, so they are *not* case-blind: they are what teaches "a noisy scan is still
mostly lower-case".
"""

from __future__ import annotations

import itertools
import json
import pickle
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from ocr_server.recognition.charset import Charset
from ocr_server.recognition.lines import crop_box, prepare_line
from ocr_server.shared_data import data_root

from .fonts import FontFile, font_coverage
from .render import augment, office_scan, render_line
from .scene import render_scene, scene_text
from .screen import EN_SCREEN_SIZES, screen_look
from .splits import SPLITS
from .text_sources import random_text

SHARED_DATA = data_root()  # $OCR_SHARED_DATA, else shared/data beside the repo
CACHE_DIR = Path(__file__).resolve().parents[1] / "data-cache"


def line_box(line: dict) -> list[int]:
    """The line's axis-aligned box from its polygon.

    sroie-train's ``box`` field has y clipped to the page *width* for about half of its lines
    (y1 == y2), so the polygon is the reliable source; on sroie-dev both agree exactly.
    """
    poly = line.get("poly")
    if poly and len(poly) >= 8:
        xs, ys = poly[0::2], poly[1::2]
        return [min(xs), min(ys), max(xs), max(ys)]
    return list(line["box"])


def load_line_crops(
    root: Path, height: int = 32, limit_pages: int | None = None, keep_page: Callable[[str], bool] | None = None
) -> list[tuple[np.ndarray, str]]:
    """Every labelled line of a ``pages.jsonl`` set, cropped and resized to ``height`` (uint8);
    ``keep_page(image_path) -> bool`` selects pages (a split by form)."""
    out: list[tuple[np.ndarray, str]] = []
    with (root / "pages.jsonl").open(encoding="utf-8") as fh:
        pages = [json.loads(line) for line in fh]
    if keep_page is not None:
        pages = [p for p in pages if keep_page(p["image"])]
    for page in pages[:limit_pages]:
        img = cv2.imread(str(root / page["image"]), cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue
        for line in page["lines"]:
            crop = crop_box(img, line_box(line))
            if crop.size == 0 or min(crop.shape) < 4 or not line["text"].strip():
                continue
            w = max(8, round(crop.shape[1] * height / crop.shape[0]))
            out.append((cv2.resize(crop, (w, height), interpolation=cv2.INTER_AREA), line["text"]))
    return out


def cached_line_crops(name: str, height: int = 32) -> list[tuple[np.ndarray, str]]:
    """``load_line_crops`` of ``shared/data/<name>`` (or of a split in ``SPLITS``, e.g. ``funsd-val``)
    memoised on disk (decoding 500 pages takes a minute)."""
    CACHE_DIR.mkdir(exist_ok=True)
    path = CACHE_DIR / f"{name}-h{height}.pkl"
    if path.is_file():
        with path.open("rb") as fh:
            return pickle.load(fh)
    folder, keep = SPLITS.get(name, (name, None))
    crops = load_line_crops(SHARED_DATA / folder, height, keep_page=keep)
    with path.open("wb") as fh:
        pickle.dump(crops, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return crops


@dataclass
class MixConfig:
    real_share: float = 0.4  # share of sroie-train lines in the stream (case-blind loss)
    forms_share: float = 0.0  # share of funsd-train lines (real mixed case on noisy office scans)
    office_share: float = 0.0  # share of synthetic document lines degraded like office scans / faxes
    blank_share: float = 0.0  # share of blank or ink-free crops labelled "" (a blank crop reads as nothing)
    scene_share: float = 0.35  # share of synthetic samples drawn as scene text (signs, covers)
    screen_share: float = 0.0  # share of synthetic samples drawn natively at UI sizes (screenshots)
    corpus_share: float = 0.25  # share of synthetic lines whose text comes from sroie-train labels
    augment_strength: float = 1.0
    real_augment_strength: float = 0.5
    max_len: int = 48


class LineStream(IterableDataset):
    """Endless, seeded stream mixing synthetic and real lines (each DataLoader worker its own seed)."""

    def __init__(
        self,
        charset: Charset,
        fonts: list[FontFile],
        real: list[tuple[np.ndarray, str]],
        corpus: tuple[str, ...],
        mix: MixConfig,
        seed: int,
        forms: list[tuple[np.ndarray, str]] | None = None,
    ) -> None:
        self.charset, self.fonts, self.real, self.corpus, self.mix, self.seed = charset, fonts, real, corpus, mix, seed
        self.forms = forms or []

    def synthetic(self, rng: random.Random, nrng: np.random.Generator) -> tuple[np.ndarray, str]:
        for _ in range(10):
            font = rng.choice(self.fonts)
            cover = font_coverage(font.path)
            style = rng.random()  # one draw: with screen_share 0 the stream is what it was before
            scene = style < self.mix.scene_share
            screen = not scene and style < self.mix.scene_share + self.mix.screen_share
            raw = scene_text(rng) if scene else random_text(rng, self.corpus, self.mix.corpus_share, self.mix.max_len)
            text = self.charset.normalise(raw)
            text = "".join(c for c in text if c in cover or c == " ").strip()
            text = " ".join(text.split())
            if not text:
                continue
            if screen:
                img = render_line(text, font.path, rng, size=rng.randint(*EN_SCREEN_SIZES))
                if img.size and min(img.shape) >= 4:
                    return screen_look(img, rng), text
                continue
            img = render_scene(text, font.path, rng) if scene else render_line(text, font.path, rng)
            if img.size and min(img.shape) >= 4:
                if not scene and rng.random() < self.mix.office_share:
                    return office_scan(img, nrng), text
                return augment(img, nrng, self.mix.augment_strength), text
        return np.full((32, 32), 255, np.uint8), ""

    def __iter__(self) -> Iterator[tuple[np.ndarray, str, bool]]:
        info = get_worker_info()
        wid = info.id if info else 0
        rng = random.Random(self.seed * 1000 + wid)
        nrng = np.random.default_rng(self.seed * 1000 + wid)
        while True:
            r = rng.random()
            if r < self.mix.blank_share:
                yield blank_crop(nrng), "", False
                continue
            r -= self.mix.blank_share
            if self.forms and r < self.mix.forms_share:
                img, text = self.forms[rng.randrange(len(self.forms))]
                text = self.charset.normalise(text)
                if text:
                    yield augment(img, nrng, self.mix.real_augment_strength), text, False
                continue
            if self.real and rng.random() < self.mix.real_share:
                img, text = self.real[rng.randrange(len(self.real))]
                text = self.charset.normalise(text)
                if not text:
                    continue
                yield augment(img, nrng, self.mix.real_augment_strength), text, True
            else:
                img, text = self.synthetic(rng, nrng)
                if text:
                    yield img, text, False


def blank_crop(rng: np.random.Generator) -> np.ndarray:
    """A crop with no text: flat paper, a gradient, noise, a faint rule or a few specks."""
    h, w = int(rng.integers(16, 48)), int(rng.integers(16, 400))
    bg = int(rng.integers(150, 256))
    img = np.full((h, w), bg, np.float32)
    kind = rng.random()
    if kind < 0.3:
        img += np.linspace(rng.uniform(-40, 0), rng.uniform(-40, 0), w, dtype=np.float32)[None, :]
    elif kind < 0.5:
        y = int(rng.integers(0, h))
        img[y : y + int(rng.integers(1, 3)), :] = rng.integers(0, 150)
    elif kind < 0.65:
        for _ in range(int(rng.integers(1, 5))):
            y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
            img[y : y + 2, x : x + 2] = rng.integers(0, 120)
    img += rng.normal(0, rng.uniform(0, 12), img.shape)
    out = np.clip(img, 0, 255).astype(np.uint8)
    return 255 - out if rng.random() < 0.1 else out


def min_frames(label: list[int]) -> int:
    """CTC needs one frame per label plus one blank between repeated labels."""
    return len(label) + sum(1 for a, b in itertools.pairwise(label) if a == b)


def collate(
    samples: list[tuple[np.ndarray, str, bool]],
    charset: Charset,
    height: int = 32,
    downsample: int = 4,
    max_width: int = 1024,
) -> dict[str, torch.Tensor]:
    """Prepare, widen where CTC would be infeasible, pad to the batch's widest line."""
    lines, labels, blind = [], [], []
    for img, text, case_blind in samples:
        label = charset.encode(text)
        x = prepare_line(img, height, max_width)
        need = (min_frames(label) + 2) * downsample
        if x.shape[1] < need:
            x = cv2.resize(x, (need, height), interpolation=cv2.INTER_LINEAR)
        lines.append(x)
        labels.append(label)
        blind.append(case_blind)
    width = max(x.shape[1] for x in lines)
    batch = np.full((len(lines), 1, height, width), 1.0, np.float32)
    for i, x in enumerate(lines):
        batch[i, 0, :, : x.shape[1]] = x
    return {
        "images": torch.from_numpy(batch),
        "targets": torch.tensor([i for lab in labels for i in lab], dtype=torch.long),
        "target_lengths": torch.tensor([len(lab) for lab in labels], dtype=torch.long),
        "input_lengths": torch.tensor([-(-x.shape[1] // downsample) for x in lines], dtype=torch.long),
        "case_blind": torch.tensor(blind, dtype=torch.bool),
        "texts": [s[1] for s in samples],  # type: ignore[dict-item]
    }


class BucketedBatches(IterableDataset):
    """Batches of similar-width lines: a pool of ``pool`` batches is sorted by width and cut, so
    little compute is spent on padding (line widths vary twentyfold)."""

    def __init__(
        self, stream: IterableDataset, batch_size: int, pool: int = 8, height: int = 32, downsample: int = 4
    ) -> None:
        self.stream, self.batch_size, self.pool = stream, batch_size, pool
        self.height, self.downsample = height, downsample

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        it = iter(self.stream)
        rng = random.Random(self.stream.seed + 7)
        while True:
            samples = [next(it) for _ in range(self.batch_size * self.pool)]
            samples.sort(key=lambda s: s[0].shape[1] / max(1, s[0].shape[0]))
            batches = [samples[i : i + self.batch_size] for i in range(0, len(samples), self.batch_size)]
            rng.shuffle(batches)
            for b in batches:
                yield collate(b, self.stream.charset, self.height, self.downsample)
