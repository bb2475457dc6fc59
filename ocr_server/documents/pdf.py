"""Rasterise PDF pages with PDFium (pypdfium2) in a bounded child process, one page at a time.

Why PDFium through ``pypdfium2``: it is the renderer of Chromium (maintained, fuzzed daily), the
wheels on PyPI carry it with no system dependency (Apache-2.0/BSD-3), and it renders faster than
poppler's ``pdftoppm`` without a process per page.  Why a child process: see
:mod:`ocr_server.documents.render_worker`.  What bounds what:

- page count (``limits.maxPages``) and total rendered pixels (``limits.maxDocumentPixels``) are
  checked from the page boxes before any page is rendered;
- each page is rendered at ``limits.pdfDpi``, lowered so that it stays within ``limits.maxPixels``
  (a page box of a square kilometre becomes an ordinary bitmap, not an allocation failure);
- the child's address space and CPU time are capped (decompression bombs, deep nesting), and the
  parent kills it at the request deadline (a page that takes forever);
- no form environment is opened, so PDFium runs no JavaScript.

Pages are yielded as they arrive: the caller OCRs page 1 while the child renders page 2, and no more
than two pages are held in memory.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from ..errors import DocumentTooSlow, EncryptedDocument, TooManyPages, TooManyPixels, UndecodableDocument

# Address space of the renderer: the interpreter with PDFium (~45 MB at peak for a text page) plus
# two copies of a page bitmap (PDFium's and the bytes sent).  Measured: a 6000 x 6000 scan renders in
# gray and in colour under the default cap (192 MB + 6 B x 40 M pixels = 420 MB), while a content
# stream that inflates to 1.5 GB aborts the renderer in about a second.  Kept well below the
# pod's default 1 GiB limit so that a bomb costs the renderer, not the worker.
RENDER_BASE_BYTES = 192 * 1024 * 1024
RENDER_BYTES_PER_PIXEL = 6
MAX_HEADER_BYTES = 16 * 1024 * 1024
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass(frozen=True)
class TextWord:
    """A word of the PDF's own text layer; ``box`` in the rendered page's pixels."""

    text: str
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class RasterPage:
    """One rendered page: gray ``(H, W)`` or BGR ``(H, W, 3)`` uint8 pixels, and its physical size."""

    number: int
    pixels: np.ndarray
    dpi: float
    width_pt: float
    height_pt: float
    text_lines: tuple[tuple[TextWord, ...], ...] = ()


@dataclass(frozen=True)
class RenderLimits:
    dpi: int
    max_pixels: int
    max_pages: int
    max_document_pixels: int


def render_memory_bytes(max_pixels: int) -> int:
    """The renderer's address-space cap for pages of at most ``max_pixels``."""
    return RENDER_BASE_BYTES + RENDER_BYTES_PER_PIXEL * max_pixels


class _Child:
    """The renderer process with a watchdog that kills it at the deadline."""

    def __init__(self, deadline: float) -> None:
        # The child imports this very package, wherever it lives (installed or a checkout).
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME")}
        env["PYTHONPATH"] = _PACKAGE_ROOT
        self.proc = subprocess.Popen(
            [sys.executable, "-s", "-m", "ocr_server.documents.render_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=_PACKAGE_ROOT,
        )
        self.timed_out = False
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.timed_out = True
        self.proc.kill()

    def send(self, params: dict[str, Any], data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(params).encode() + b"\n")
            self.proc.stdin.write(data)
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass  # the child died early; reading its answer says why

    def read_frame(self) -> tuple[dict[str, Any], IO[bytes]]:
        out = self.proc.stdout
        assert out is not None
        raw = out.read(4)
        if len(raw) < 4:
            raise self.failure()
        (size,) = struct.unpack(">I", raw)
        if size > MAX_HEADER_BYTES:
            raise UndecodableDocument("the PDF renderer answered nonsense")
        header = out.read(size)
        if len(header) < size:
            raise self.failure()
        return json.loads(header), out

    def read_exactly(self, n: int) -> bytes:
        assert self.proc.stdout is not None
        data = self.proc.stdout.read(n)
        if len(data) < n:
            raise self.failure()
        return data

    def failure(self) -> Exception:
        if self.timed_out:
            return DocumentTooSlow()
        try:
            code = self.proc.wait(5)
        except subprocess.TimeoutExpired:  # closed its output but lingers: treat as a crash
            self.proc.kill()
            code = self.proc.wait(5)
        if code in (-9, -6, -11, 3, 137) or code < 0:
            return UndecodableDocument(
                "the PDF could not be rendered within the renderer's memory and time limits "
                f"(decompression bomb or pathological content; renderer exit {code})"
            )
        return UndecodableDocument(f"the PDF renderer stopped unexpectedly (exit {code})")

    def close(self) -> None:
        self._timer.cancel()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()


def iter_pdf_pages(
    data: bytes,
    limits: RenderLimits,
    *,
    gray: bool,
    deadline: float,
    text_layer: bool = False,
    timeout_message: str = "",
) -> Iterator[RasterPage]:
    """Render the pages of ``data`` in order; raises the matching :mod:`ocr_server.errors` class.

    ``deadline`` is a :func:`time.monotonic` instant: the renderer is killed then and
    :class:`DocumentTooSlow` is raised (with ``timeout_message`` when given).
    """
    child = _Child(deadline)
    try:
        child.send(
            {
                "dpi": limits.dpi,
                "max_pixels": limits.max_pixels,
                "max_pages": limits.max_pages,
                "max_document_pixels": limits.max_document_pixels,
                "gray": gray,
                "text_layer": text_layer,
                "memory_bytes": render_memory_bytes(limits.max_pixels),
                "cpu_seconds": max(1, int(deadline - time.monotonic()) + 2),
            },
            data,
        )
        try:
            first, _ = child.read_frame()
        except DocumentTooSlow:
            raise DocumentTooSlow(timeout_message or None) from None
        _raise_for(first, limits)
        for _ in range(int(first["pages"])):
            try:
                header, _ = child.read_frame()
                _raise_for(header, limits)
                w, h, c = int(header["width"]), int(header["height"]), int(header["channels"])
                if w * h > limits.max_pixels or c not in (1, 3):
                    raise UndecodableDocument("the PDF renderer answered nonsense")
                buf = child.read_exactly(w * h * c)
            except DocumentTooSlow:
                raise DocumentTooSlow(timeout_message or None) from None
            pixels = np.frombuffer(buf, dtype=np.uint8).reshape((h, w) if c == 1 else (h, w, 3))
            words = tuple(
                tuple(TextWord(str(wd["text"]), tuple(float(v) for v in wd["box"])) for wd in line)  # type: ignore[misc]
                for line in header.get("text") or []
            )
            yield RasterPage(
                number=int(header["page"]),
                pixels=pixels,
                dpi=float(header["dpi"]),
                width_pt=float(header["width_pt"]),
                height_pt=float(header["height_pt"]),
                text_lines=words,
            )
    finally:
        child.close()


def _raise_for(header: dict[str, Any], limits: RenderLimits) -> None:
    error = header.get("error")
    if error is None:
        return
    if error == "encrypted":
        raise EncryptedDocument()
    if error == "too_many_pages":
        raise TooManyPages(f"the PDF has {header['pages']} pages; the limit is {limits.max_pages}")
    if error == "too_many_pixels":
        raise TooManyPixels(
            f"the PDF's pages at {limits.dpi} dpi come to {header['pixels']} pixels; "
            f"the limit per document is {limits.max_document_pixels}"
        )
    raise UndecodableDocument(str(header.get("message") or "the PDF cannot be read"))
