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

import contextlib
import json
import os
import signal
import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from ..errors import DocumentTooSlow, EncryptedDocument, TooManyPages, TooManyPixels, UndecodableDocument
from .render_worker import ALARM_ENV

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


def _original(module: str, name: str) -> Any:
    """The unpatched standard-library function even under gevent's monkey patching.

    Pages render from a native OCR thread (:mod:`ocr_server.offload`); gevent's patched process
    functions register child watchers that exist only on the hub's loop and fail there."""
    try:
        from gevent.monkey import get_original
    except ImportError:
        return getattr(__import__(module), name)
    return get_original(module, name)


class _Child:
    """The renderer process; it kills itself at the deadline (``SIGALRM``, see render_worker)."""

    def __init__(self, deadline: float) -> None:
        # The child imports this very package, wherever it lives (installed or a checkout).
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME")}
        env["PYTHONPATH"] = _PACKAGE_ROOT
        self.deadline = deadline
        env[ALARM_ENV] = f"{max(0.0, deadline - time.monotonic()):.3f}"
        child_in, self._to_child = os.pipe()
        self._from_child, child_out = os.pipe()
        try:
            self.pid: int = _original("os", "posix_spawn")(
                sys.executable,
                [sys.executable, "-s", "-m", "ocr_server.documents.render_worker"],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, child_in, 0),
                    (os.POSIX_SPAWN_DUP2, child_out, 1),
                    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
                    (os.POSIX_SPAWN_CLOSE, self._to_child),
                    (os.POSIX_SPAWN_CLOSE, self._from_child),
                ],
            )
        finally:
            os.close(child_in)
            os.close(child_out)
        self.stdin: IO[bytes] = os.fdopen(self._to_child, "wb")
        self.stdout: IO[bytes] = os.fdopen(self._from_child, "rb")
        self.returncode: int | None = None

    @property
    def timed_out(self) -> bool:
        return time.monotonic() >= self.deadline - 0.05

    def _reap(self, block: bool) -> int | None:
        if self.returncode is None:
            pid, status = _original("os", "waitpid")(self.pid, 0 if block else os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def _kill(self) -> None:
        if self._reap(block=False) is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self._reap(block=True)

    def send(self, params: dict[str, Any], data: bytes) -> None:
        try:
            self.stdin.write(json.dumps(params).encode() + b"\n")
            self.stdin.write(data)
            self.stdin.close()
        except (BrokenPipeError, OSError):
            pass  # the child died early; reading its answer says why

    def read_frame(self) -> tuple[dict[str, Any], IO[bytes]]:
        out = self.stdout
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
        data = self.stdout.read(n)
        if len(data) < n:
            raise self.failure()
        return data

    def failure(self) -> Exception:
        if self.timed_out:
            self._kill()
            return DocumentTooSlow()
        # it closed its output: it has ended or is about to (a lingering one is treated as a crash)
        for _ in range(50):
            if self._reap(block=False) is not None:
                break
            time.sleep(0.1)
        else:
            self._kill()
        code = self.returncode if self.returncode is not None else -9
        if code in (-9, -6, -11, -14, 3, 137) or code < 0:
            return UndecodableDocument(
                "the PDF could not be rendered within the renderer's memory and time limits "
                f"(decompression bomb or pathological content; renderer exit {code})"
            )
        return UndecodableDocument(f"the PDF renderer stopped unexpectedly (exit {code})")

    def close(self) -> None:
        self._kill()
        for stream in (self.stdin, self.stdout):
            if not stream.closed:
                with contextlib.suppress(OSError):
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
