"""The PDF renderer's child process: PDF bytes on stdin, page bitmaps on stdout.

Why a child process: PDFium is C++ parsing hostile input.  A decompression bomb in a content
stream, a pathological page or a parser bug must cost this process, never the gunicorn worker
that serves other requests.  The parent (:mod:`ocr_server.documents.pdf`) kills it at the
request's deadline; here the address space and CPU time are capped with ``setrlimit`` before
PDFium sees a byte, so memory exhaustion ends in a ``MemoryError``/abort of this process only.

Imports stay minimal (no numpy, no OpenCV, no Flask) so the child starts in a fraction of a second.
No form environment is ever initialised: PDFium then runs no JavaScript and no XFA.

Protocol (all integers big-endian): stdin = one JSON line of parameters, then the PDF bytes to EOF.
stdout = frames of ``u32 header length, JSON header, payload``.  The first frame is
``{"pages": n, "dpi": [...]}`` or ``{"error": code, "message": text}``; then one frame per page
``{"page", "width", "height", "channels", "dpi", "width_pt", "height_pt", "text"}`` followed by
``width * height * channels`` bytes of pixels (row-major, gray or BGR).
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import struct
import sys
from typing import Any, BinaryIO

# A side beyond this is refused by PDFium's bitmap allocator anyway; a page box of 1 x 10^6 points
# is scaled so that neither side exceeds it.
MAX_SIDE = 20_000
POINTS_PER_INCH = 72.0


# Seconds until the parent's deadline, set by ocr_server.documents.pdf when it starts us.
ALARM_ENV = "OCR_RENDER_ALARM_S"


def write_frame(out: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    raw = json.dumps(header).encode()
    out.write(struct.pack(">I", len(raw)) + raw)
    if payload:
        out.write(payload)
    out.flush()


def page_scale(width_pt: float, height_pt: float, dpi: float, max_pixels: int) -> float:
    """Pixels per point: ``dpi / 72``, lowered so that the page fits ``max_pixels`` and ``MAX_SIDE``."""
    scale = dpi / POINTS_PER_INCH
    area = max(width_pt, 1e-6) * max(height_pt, 1e-6)
    if area * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / area) * 0.999
    longest = max(width_pt, height_pt, 1e-6)
    if longest * scale > MAX_SIDE:
        scale = MAX_SIDE / longest
    return scale


def rendered_size(width_pt: float, height_pt: float, scale: float) -> tuple[int, int]:
    """The bitmap size PDFium renders for ``scale`` (pypdfium2 rounds up)."""
    return max(1, math.ceil(width_pt * scale)), max(1, math.ceil(height_pt * scale))


def limit_resources(memory_bytes: int, cpu_seconds: int) -> None:
    """Cap this process's address space and CPU time (soft limits; the parent's kill is the backstop)."""
    for limit, value in ((resource.RLIMIT_AS, memory_bytes), (resource.RLIMIT_CPU, cpu_seconds)):
        if value > 0:
            _soft, hard = resource.getrlimit(limit)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(limit, (value, hard))


def text_layer(page: Any, scale: float) -> list[list[dict[str, Any]]]:
    """The page's own text as lines of words ``{"text", "box"}``, boxes in rendered pixels.

    PDFium reports characters in content order with generated ``\\r\\n`` between lines; a word is a
    run of non-space characters.  Only unrotated pages are supported (others return ``[]`` and are
    OCRed), which is the case for the scanners and word processors that write text layers.
    """
    if page.get_rotation() % 360:
        return []
    left, _bottom, _right, top = page.get_bbox()
    textpage = page.get_textpage()
    try:
        lines: list[list[dict[str, Any]]] = [[]]
        word: list[tuple[str, tuple[float, float, float, float]]] = []

        def flush() -> None:
            if word:
                boxes = [b for _c, b in word]
                x1, y1 = min(b[0] for b in boxes), min(b[1] for b in boxes)
                x2, y2 = max(b[2] for b in boxes), max(b[3] for b in boxes)
                lines[-1].append({"text": "".join(c for c, _b in word), "box": [x1, y1, x2, y2]})
                word.clear()

        for i in range(textpage.count_chars()):
            ch = textpage.get_text_range(i, 1)
            if ch in ("\r", "\n"):
                flush()
                if lines[-1]:
                    lines.append([])
                continue
            if not ch or ch.isspace() or not ch.isprintable():  # control characters would break XML output
                flush()
                continue
            cl, cb, cr, ct = textpage.get_charbox(i)
            box = ((cl - left) * scale, (top - ct) * scale, (cr - left) * scale, (top - cb) * scale)
            word.append((ch, box))
        flush()
        return [line for line in lines if line]
    finally:
        textpage.close()


def render_pages(pdf: Any, params: dict[str, Any], stdout: BinaryIO) -> None:
    """Check the limits from the page boxes, then render and send each page in order."""
    count = len(pdf)
    if count > params["max_pages"]:
        write_frame(stdout, {"error": "too_many_pages", "pages": count})
        return
    if count == 0:
        write_frame(stdout, {"error": "undecodable", "message": "the PDF has no pages"})
        return
    sizes = [pdf.get_page_size(i) for i in range(count)]
    scales = [page_scale(w, h, params["dpi"], params["max_pixels"]) for w, h in sizes]
    total = sum(a * b for (w, h), s in zip(sizes, scales, strict=True) for a, b in [rendered_size(w, h, s)])
    if total > params["max_document_pixels"]:
        write_frame(stdout, {"error": "too_many_pixels", "pixels": total})
        return
    write_frame(stdout, {"pages": count, "pixels": total})
    for i, scale in enumerate(scales):
        page = pdf[i]
        try:
            text = text_layer(page, scale) if params.get("text_layer") else []
            bitmap = page.render(scale=scale, grayscale=bool(params["gray"]), may_draw_forms=False)
            channels = 1 if params["gray"] else 3
            width, height, stride = bitmap.width, bitmap.height, bitmap.stride
            if bitmap.n_channels != channels:
                raise RuntimeError(f"PDFium rendered {bitmap.n_channels} channels, expected {channels}")
            buf = bytes(bitmap.buffer)
            bitmap.close()
        finally:
            page.close()
        row = width * channels
        pixels = buf if stride == row else b"".join(buf[y * stride : y * stride + row] for y in range(height))
        header = {
            "page": i + 1,
            "width": width,
            "height": height,
            "channels": channels,
            "dpi": scale * POINTS_PER_INCH,
            "width_pt": sizes[i][0],
            "height_pt": sizes[i][1],
            "text": text,
        }
        write_frame(stdout, header, pixels)


def main(stdin: BinaryIO, stdout: BinaryIO) -> int:
    # The parent's deadline, as a wall-clock alarm on ourselves: SIGALRM's default action ends the
    # process, so no watchdog thread is needed in the parent (whose threads may be gevent's).
    alarm_s = os.environ.get(ALARM_ENV)
    if alarm_s:
        signal.alarm(max(1, math.ceil(float(alarm_s))))
    params = json.loads(stdin.readline())
    data = stdin.read()
    limit_resources(int(params["memory_bytes"]), int(params["cpu_seconds"]))

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        if err.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            write_frame(stdout, {"error": "encrypted", "message": "the PDF is protected by a password"})
        else:
            write_frame(stdout, {"error": "undecodable", "message": f"the PDF cannot be parsed ({err})"[:200]})
        return 0
    try:
        render_pages(pdf, params, stdout)
    except pdfium.PdfiumError as err:
        write_frame(stdout, {"error": "undecodable", "message": f"the PDF cannot be read ({err})"[:200]})
    pdf.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.stdin.buffer, sys.stdout.buffer))
    except MemoryError:
        write_frame(sys.stdout.buffer, {"error": "memory", "message": "the PDF needs more memory than allowed"})
        sys.exit(3)
