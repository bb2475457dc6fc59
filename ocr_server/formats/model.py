"""The result model every output format is written from: a document of pages of lines of words.

A single image is a one-page document with ``multipage=False``; a PDF or a multi-frame TIFF is
``multipage=True`` even when it has one page (the JSON shape follows the input kind, not the count).
Boxes are ``(x1, y1, x2, y2)`` in the page's pixels (``width`` x ``height``), x2/y2 exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..pipeline import OcrLine

# Page size assumed for an image that states no resolution (the PDF renderer's default too).
DEFAULT_DPI = 200.0


@dataclass(frozen=True)
class PageImage:
    """The page as a JPEG (what the searchable PDF draws and the upload page shows): a few hundred
    KB a page instead of megabytes of pixels, so a 50-page document stays small in memory."""

    jpeg: bytes
    width: int
    height: int
    gray: bool

    @classmethod
    def encode(cls, pixels: np.ndarray, quality: int = 80) -> PageImage:
        import cv2

        ok, buf = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError("page image could not be encoded")
        return cls(buf.tobytes(), int(pixels.shape[1]), int(pixels.shape[0]), pixels.ndim == 2)


@dataclass(frozen=True)
class Page:
    """One page's reading.  ``dpi`` relates pixels to the physical page (PDF output needs it);
    ``size_pt`` is the source PDF page's size in points when known (kept exactly in PDF output);
    ``image`` is kept only when the output needs it; ``source`` says whether the lines were
    OCRed or taken from the PDF's own text layer."""

    number: int
    width: int
    height: int
    lines: list[OcrLine]
    dpi: float = DEFAULT_DPI
    size_pt: tuple[float, float] | None = None
    image: PageImage | None = field(default=None, compare=False, repr=False)
    source: str = "ocr"
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        from ..pipeline import join_lines

        return join_lines(self.lines)

    @property
    def page_size_pt(self) -> tuple[float, float]:
        """The physical page in PDF points (1/72 in)."""
        if self.size_pt is not None:
            return self.size_pt
        return self.width * 72.0 / self.dpi, self.height * 72.0 / self.dpi


def line_blocks(lines: list[OcrLine]) -> list[list[OcrLine]]:
    """Consecutive lines of one text block together, in the lines' order (a new block wherever the
    block number changes, so the blocks never reorder the lines)."""
    out: list[list[OcrLine]] = []
    for line in lines:
        if out and out[-1][-1].block == line.block:
            out[-1].append(line)
        else:
            out.append([line])
    return out


@dataclass(frozen=True)
class ModelRef:
    """The model a document was read with; ``language`` (BCP 47, from the bundle's ``model.json``)
    labels hOCR and ALTO output, English when the bundle does not say."""

    name: str
    version: str
    language: str | None = None


@dataclass(frozen=True)
class Document:
    """``kind`` is the upload's type by magic bytes (``pdf``, ``tiff``, ``png``, ...)."""

    kind: str
    pages: list[Page]
    multipage: bool
    model: ModelRef | None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def language(self) -> str | None:
        """The language tag of what was read: the model's (``model.json`` ``language``); ``None`` unstated."""
        return self.model.language if self.model else None

    @property
    def text(self) -> str:
        """All pages' text, separated by form feeds (as Tesseract's text output)."""
        return "\f".join(page.text for page in self.pages)
