"""The OCR path without HTTP: bytes → decode → preprocess → detect → crop → recognize, timed per stage.

Knows nothing of Flask, so the benchmarks and tests call exactly what the API calls.  The
pipeline object holds only read-only collaborators (config, detector, recognizer), so one
instance serves every thread of a worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .config import OcrConfig
from .deadline import NO_DEADLINE, Deadline
from .detection.base import Box, LineDetector
from .errors import OcrError, UndecodableImage, UnusableImage
from .imaging.decode import DecodedImage, decode_image, probe_size
from .imaging.preprocess import preprocess
from .recognition.lines import LineImageError, crop_box
from .recognition.recognizer import LineResult
from .recognition.words import OcrWord, crop_origin, line_words

# Crops get a margin of 10 % of the line height (at least 2 px): the recipe the recognizer was
# trained with (see shared/README.md, lines.jsonl), so serving crops look like training crops.
CROP_MARGIN_FRAC = 0.10
CROP_MARGIN_MIN = 2


class LineRecognizer(Protocol):
    """What the pipeline needs of :class:`~ocr_server.recognition.recognizer.Recognizer`."""

    def recognize(self, crops: list[np.ndarray]) -> list[LineResult]: ...


@dataclass(frozen=True)
class OcrLine:
    """One recognised line; ``box`` is ``(x1, y1, x2, y2)`` in the upright uploaded image's pixels,
    and so are its ``words``' boxes (from the CTC frames, see :mod:`ocr_server.recognition.words`)."""

    text: str
    confidence: float
    box: Box
    words: tuple[OcrWord, ...] = ()
    block: int = 0
    """The page's text block the line belongs to (0, 1, ... in reading order): one per column of
    running text and per heading across columns, one for a page without columns (hOCR, ALTO)."""


@dataclass
class Timings:
    """Milliseconds per stage, in the order the stages ran, plus ``total``."""

    stages: dict[str, float] = field(default_factory=dict)
    _start: float = field(default_factory=time.perf_counter, repr=False)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = round((time.perf_counter() - t0) * 1000.0, 2)

    def as_dict(self) -> dict[str, float]:
        return {**self.stages, "total": round((time.perf_counter() - self._start) * 1000.0, 2)}


@dataclass(frozen=True)
class PageResult:
    lines: list[OcrLine]
    width: int
    height: int
    timings_ms: dict[str, float]
    # the decoded pixels (possibly reduced, see DecodedImage.scale), kept only when asked: the
    # searchable-PDF writer draws them under the text
    pixels: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str:
        return join_lines(self.lines)


@dataclass(frozen=True)
class LinesResult:
    results: list[LineResult]  # in request order
    timings_ms: dict[str, float]


def join_lines(lines: list[OcrLine]) -> str:
    """Page text: boxes on one printed row joined by a space, rows by newlines."""
    parts: list[str] = []
    prev: Box | None = None
    for line in lines:
        if prev is not None:
            centre = (line.box[1] + line.box[3]) / 2.0
            parts.append(" " if prev[1] <= centre <= prev[3] else "\n")
        parts.append(line.text)
        prev = line.box
    return "".join(parts)


def detect_with_blocks(detector: LineDetector, gray: np.ndarray) -> tuple[list[Box], list[int]]:
    """Line boxes in reading order and each one's text block (0, 1, ...), from a detector that groups
    its lines into blocks (the OpenCV one does, see :mod:`ocr_server.detection.layout`); one block
    for a detector that does not."""
    detect_blocks = getattr(detector, "detect_blocks", None)
    if not callable(detect_blocks):
        boxes = detector.detect(gray)
        return boxes, [0] * len(boxes)
    grouped = detect_blocks(gray)
    return [b for block in grouped for b in block], [k for k, block in enumerate(grouped) for _ in block]


def is_text(result: LineResult, min_confidence: float) -> bool:
    """Whether a detected line's reading is kept on the page.

    The detector also boxes logos, table rules, stamps and stains; the recognizer reads those as
    short junk with low confidence.  Dropping readings below ``min_confidence`` (PaddleOCR's
    ``drop_score``, same 0.5 default) took sroie-dev page CER from 8.1 % to 7.2 % with crnn-en-1.0.0.
    Empty readings are never kept.
    """
    return bool(result.text.strip()) and result.confidence >= min_confidence


def crop_line(page: np.ndarray, box: Box) -> np.ndarray | None:
    """The box plus the training margin, clipped to the page; ``None`` for a degenerate box."""
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1:
        return None
    crop = crop_box(page, box, CROP_MARGIN_FRAC, CROP_MARGIN_MIN)
    return crop if crop.size else None


class OcrPipeline:
    """Runs a page or a batch of line images through the stages with the configured thresholds."""

    def __init__(self, config: OcrConfig, detector: LineDetector, recognizer: LineRecognizer) -> None:
        self.config = config
        self.detector = detector
        self.recognizer = recognizer

    def count_pixels(self, images: list[bytes]) -> int:
        """Pixels of ``images`` together, from their headers alone (no decoding), after each
        image's pixel and JPEG-scan checks: what the caller budgets before any decoding starts."""
        total = 0
        for i, data in enumerate(images):
            try:
                width, height = probe_size(data, self.config.limits.max_pixels)
            except OcrError as err:
                if len(images) == 1:
                    raise
                raise type(err)(f"image {i + 1}: {err.message}") from err
            total += width * height
        return total

    def read_page(self, data: bytes, deadline: Deadline = NO_DEADLINE, *, keep_pixels: bool = False) -> PageResult:
        """Full-page OCR of an encoded image (already checked by magic bytes and size).

        ``deadline`` is checked between stages and while decoding: past it the work stops with
        :class:`~ocr_server.errors.RequestTimedOut`."""
        pre_cfg = self.config.preprocessing
        timings = Timings()
        with timings.stage("decode"):
            decoded = decode_image(
                data,
                max_pixels=self.config.limits.max_pixels,
                gray=pre_cfg.grayscale or pre_cfg.binarize,
                max_side=pre_cfg.max_side,
                deadline=deadline,
            )
        return self.read_decoded(decoded, timings, deadline, keep_pixels=keep_pixels)

    def read_decoded(
        self,
        decoded: DecodedImage,
        timings: Timings | None = None,
        deadline: Deadline = NO_DEADLINE,
        *,
        keep_pixels: bool = False,
    ) -> PageResult:
        """Full-page OCR of already decoded pixels (an image, a rendered PDF page, a TIFF frame)."""
        pre_cfg = self.config.preprocessing
        timings = timings or Timings()
        deadline.check()
        with timings.stage("preprocess"):
            page = preprocess(decoded.pixels, pre_cfg)
        deadline.check()
        with timings.stage("detect"):
            boxes, numbers = detect_with_blocks(self.detector, page.gray)
            limit = self.config.detection.max_lines
            crops, kept, blocks = [], [], []
            for box, block in zip(boxes[:limit], numbers[:limit], strict=True):
                crop = crop_line(page.image, box)
                if crop is not None:
                    crops.append(crop)
                    kept.append(box)
                    blocks.append(block)
        deadline.check()
        geometry = page.geometry

        def to_source(box: Box) -> Box:
            return geometry.to_source(box, source_scale=decoded.scale, width=decoded.width, height=decoded.height)

        with timings.stage("recognize"):  # word boxes included: they cost ~0.1 ms a line
            results = self._recognize(crops)
            lines = [
                OcrLine(
                    text=r.text,
                    confidence=r.confidence,
                    box=to_source(box),
                    words=tuple(
                        OcrWord(w.text, w.confidence, to_source(w.box))
                        for w in line_words(r, crop, box, crop_origin(box, CROP_MARGIN_FRAC, CROP_MARGIN_MIN))
                    ),
                    block=block,
                )
                for box, crop, r, block in zip(kept, crops, results, blocks, strict=True)
                if is_text(r, self.config.recognition.min_line_confidence)
            ]
        return PageResult(
            lines=lines,
            width=decoded.width,
            height=decoded.height,
            timings_ms=timings.as_dict(),
            pixels=decoded.pixels if keep_pixels else None,
        )

    def read_lines(self, images: list[bytes], deadline: Deadline = NO_DEADLINE) -> LinesResult:
        """Recognise pre-cropped line images (no preprocessing, no detection), in order."""
        timings = Timings()
        with timings.stage("decode"):
            crops = []
            for i, data in enumerate(images):
                deadline.check()
                try:
                    decoded = decode_image(data, max_pixels=self.config.limits.max_pixels, gray=True, deadline=deadline)
                    crops.append(decoded.pixels)
                except UndecodableImage as err:
                    raise type(err)(f"image {i + 1}: {err.message}") from err
        deadline.check()
        with timings.stage("recognize"):
            results = self._recognize(crops)
        return LinesResult(results=results, timings_ms=timings.as_dict())

    def _recognize(self, crops: list[np.ndarray]) -> list[LineResult]:
        try:
            return self.recognizer.recognize(crops)
        except LineImageError as err:
            raise UnusableImage(str(err)) from err

    def warmup(self) -> None:
        """Run every stage once on a synthetic page so the first request pays no lazy set-up."""
        page = np.full((400, 600), 255, dtype=np.uint8)
        for row in range(40, 360, 40):
            page[row : row + 14, 40 : 40 + 5 * (row % 100 + 20)] = 0
        processed = preprocess(page, self.config.preprocessing)
        boxes = self.detector.detect(processed.gray)
        crops = [c for c in (crop_line(processed.image, b) for b in boxes[:4]) if c is not None]
        self.recognizer.recognize(crops or [page[30:70, 30:300]])
