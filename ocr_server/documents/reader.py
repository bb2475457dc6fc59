"""Turn one upload (image, multi-page TIFF or PDF) into a :class:`~ocr_server.formats.model.Document`.

Pages are read one after the other through the same pipeline as single images, against one
deadline: ``limits.requestTimeoutSeconds`` times :data:`BUDGET_FRACTION`, so that the answer (or a
clear 413 ``document_too_slow``) leaves before gunicorn or a proxy gives up on the request.

A PDF page that already carries text is OCRed like any other page (the documented default: a text
layer may be wrong, partial or a previous OCR's output, and the answer should not depend on how the
file was produced).  With ``use_text_layer`` the page's own text and positions are returned instead
(``source: "text_layer"``), and pages without text are still OCRed.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, replace

from PIL import Image

from ..config import OcrConfig
from ..deadline import NO_DEADLINE, Deadline
from ..errors import DocumentTooSlow
from ..formats.model import DEFAULT_DPI, Document, ModelRef, Page, PageImage
from ..imaging.decode import PIL_FORMATS, DecodedImage
from ..pipeline import OcrLine, OcrPipeline, PageResult
from ..recognition.words import OcrWord
from .pdf import RasterPage, RenderLimits, iter_pdf_pages
from .tiff import frame_dpi, is_multipage_tiff, iter_tiff_pages

# Share of limits.requestTimeoutSeconds a document may use; the rest is for writing the answer.
BUDGET_FRACTION = 0.8
STAGES = ("decode", "preprocess", "detect", "recognize")


@dataclass(frozen=True)
class ReadOptions:
    """What the request asked for: keep page images (searchable PDF, page previews) and whether a
    PDF's own text layer replaces OCR where present; ``max_page_pixels`` caps a rendered PDF page
    below ``limits.maxPixels`` (the share of the worker's pixel budget the request was given)."""

    keep_images: bool = False
    use_text_layer: bool = False
    max_page_pixels: int | None = None


def _image_dpi(data: bytes) -> float:
    try:
        with Image.open(io.BytesIO(data), formats=PIL_FORMATS) as img:
            return frame_dpi(img) or DEFAULT_DPI
    except Exception:
        return DEFAULT_DPI


def _sum_timings(pages: list[Page], started: float) -> dict[str, float]:
    totals = {stage: round(sum(p.timings_ms.get(stage, 0.0) for p in pages), 2) for stage in STAGES}
    totals["total"] = round((time.perf_counter() - started) * 1000.0, 2)
    return totals


def _page(number: int, result: PageResult, dpi: float, size_pt: tuple[float, float] | None, keep: bool) -> Page:
    image = PageImage.encode(result.pixels) if keep and result.pixels is not None else None
    return Page(number, result.width, result.height, result.lines, dpi, size_pt, image, "ocr", result.timings_ms)


def text_layer_page(raster: RasterPage, keep: bool) -> Page:
    """A page read from the PDF's own text: confidence 1, words as the PDF placed them."""
    h, w = raster.pixels.shape[:2]
    lines = []
    for text_line in raster.text_lines:
        words = tuple(
            OcrWord(tw.text, 1.0, (int(tw.box[0]), int(tw.box[1]), round(tw.box[2]), round(tw.box[3])))
            for tw in text_line
        )
        box = (
            min(wd.box[0] for wd in words),
            min(wd.box[1] for wd in words),
            max(wd.box[2] for wd in words),
            max(wd.box[3] for wd in words),
        )
        lines.append(OcrLine(" ".join(wd.text for wd in words), 1.0, box, words))
    image = PageImage.encode(raster.pixels) if keep else None
    size = (raster.width_pt, raster.height_pt)
    return Page(raster.number, w, h, lines, raster.dpi, size, image, "text_layer", {})


class DocumentReader:
    """Reads uploads with one worker's pipeline and configuration (stateless, thread-safe)."""

    def __init__(self, pipeline: OcrPipeline, config: OcrConfig, model: ModelRef | None) -> None:
        self.pipeline = pipeline
        self.config = config
        self.model = model

    @property
    def budget_s(self) -> float:
        return self.config.limits.request_timeout_seconds * BUDGET_FRACTION

    def read(
        self, data: bytes, kind: str, options: ReadOptions = ReadOptions(), deadline: Deadline = NO_DEADLINE
    ) -> Document:
        """OCR every page of the upload (``kind`` from its magic bytes); ``deadline`` is the request's
        (past it the work stops with ``RequestTimedOut``), the document budget below it is this
        reader's own (413 ``document_too_slow``, with the pages read so far named)."""
        started = time.perf_counter()
        if kind == "pdf":
            pages = self._read_pdf(data, options, deadline)
        elif kind == "tiff" and is_multipage_tiff(data):
            pages = self._read_tiff(data, options, deadline)
        else:
            result = self.pipeline.read_page(data, deadline, keep_pixels=options.keep_images)
            page = _page(1, result, _image_dpi(data), None, options.keep_images)
            return Document(kind, [page], False, self.model, result.timings_ms)
        return Document(kind, pages, True, self.model, _sum_timings(pages, started))

    def _too_slow(self, done: int, total: int | None) -> DocumentTooSlow:
        of = f" of {total}" if total else ""
        return DocumentTooSlow(
            f"the document takes longer than this request may ({self.budget_s:.0f} s, "
            f"{BUDGET_FRACTION:.0%} of limits.requestTimeoutSeconds): {done}{of} pages were read in time; "
            "split it and send fewer pages per request"
        )

    def _read_pdf(self, data: bytes, options: ReadOptions, request_deadline: Deadline) -> list[Page]:
        limits = self.config.limits
        pre = self.config.preprocessing
        deadline = time.monotonic() + min(self.budget_s, request_deadline.remaining())
        pages: list[Page] = []
        page_pixels = min(limits.max_pixels, options.max_page_pixels or limits.max_pixels)
        render_limits = RenderLimits(limits.pdf_dpi, page_pixels, limits.max_pages, limits.max_document_pixels)
        rendered = iter_pdf_pages(
            data,
            render_limits,
            gray=pre.grayscale or pre.binarize,
            deadline=deadline,
            text_layer=options.use_text_layer,
            timeout_message=self._too_slow(0, None).message,
        )
        while True:
            t0 = time.perf_counter()
            try:
                raster = next(rendered)
            except StopIteration:
                break
            except DocumentTooSlow:
                raise self._too_slow(len(pages), None) from None
            render_ms = round((time.perf_counter() - t0) * 1000.0, 2)
            if time.monotonic() > deadline:
                rendered.close()
                raise self._too_slow(len(pages), None)
            if options.use_text_layer and raster.text_lines:
                pages.append(replace(text_layer_page(raster, options.keep_images), timings_ms={"decode": render_ms}))
                continue
            h, w = raster.pixels.shape[:2]
            result = self.pipeline.read_decoded(
                DecodedImage(raster.pixels, w, h, "pdf"), None, request_deadline, keep_pixels=options.keep_images
            )
            timings = {"decode": render_ms, **result.timings_ms}
            page = _page(raster.number, result, raster.dpi, (raster.width_pt, raster.height_pt), options.keep_images)
            pages.append(replace(page, timings_ms=timings))
        return pages

    def _read_tiff(self, data: bytes, options: ReadOptions, request_deadline: Deadline) -> list[Page]:
        limits = self.config.limits
        pre = self.config.preprocessing
        deadline = time.monotonic() + min(self.budget_s, request_deadline.remaining())
        frames = iter_tiff_pages(
            data,
            max_pixels=limits.max_pixels,
            max_pages=limits.max_pages,
            max_document_pixels=limits.max_document_pixels,
            gray=pre.grayscale or pre.binarize,
        )
        pages: list[Page] = []
        while True:
            t0 = time.perf_counter()
            try:
                decoded, dpi = next(frames)
            except StopIteration:
                break
            decode_ms = round((time.perf_counter() - t0) * 1000.0, 2)
            if time.monotonic() > deadline:
                raise self._too_slow(len(pages), None)
            result = self.pipeline.read_decoded(decoded, None, request_deadline, keep_pixels=options.keep_images)
            page = _page(len(pages) + 1, result, dpi or DEFAULT_DPI, None, options.keep_images)
            pages.append(replace(page, timings_ms={"decode": decode_ms, **result.timings_ms}))
        return pages
