"""PDFs and multi-page TIFFs made in the tests: real documents (pikepdf) and hostile ones (raw bytes).

The hostile ones are written byte by byte, because a library would refuse to write them: a page tree
that declares a million pages, objects nested a hundred thousand deep, a content stream that inflates
to more than a gigabyte.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image

LETTER = (612.0, 792.0)  # points


# --------------------------------------------------------------------------- real documents


def text_pdf(pages: list[list[str]], *, size: tuple[float, float] = LETTER, font_size: float = 20.0) -> bytes:
    """A PDF whose pages carry real (vector) text in Helvetica, one string per line, from the top."""
    import pikepdf

    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica,
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )
    for lines in pages:
        ops = []
        for i, line in enumerate(lines):
            y = size[1] - 72 - i * font_size * 2.0
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"BT /F1 {font_size} Tf 72 {y:.1f} Td ({escaped}) Tj ET")
        pdf.pages.append(
            pikepdf.Page(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Page,
                    MediaBox=[0, 0, size[0], size[1]],
                    Contents=pdf.make_stream("\n".join(ops).encode("latin-1")),
                    Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
                )
            )
        )
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def scanned_pdf(images: list[Image.Image], *, dpi: float = 200.0) -> bytes:
    """An image-only PDF, as a scanner writes it: each page one JPEG filling the page at ``dpi``."""
    import pikepdf

    pdf = pikepdf.new()
    for img in images:
        gray = img.convert("L")
        buf = io.BytesIO()
        gray.save(buf, format="JPEG", quality=85)
        w_pt, h_pt = gray.width * 72.0 / dpi, gray.height * 72.0 / dpi
        xobj = pdf.make_stream(
            buf.getvalue(),
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=gray.width,
            Height=gray.height,
            ColorSpace=pikepdf.Name.DeviceGray,
            BitsPerComponent=8,
            Filter=pikepdf.Name.DCTDecode,
        )
        content = f"q {w_pt:.3f} 0 0 {h_pt:.3f} 0 0 cm /Im0 Do Q".encode()
        pdf.pages.append(
            pikepdf.Page(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Page,
                    MediaBox=[0, 0, w_pt, h_pt],
                    Contents=pdf.make_stream(content),
                    Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=xobj)),
                )
            )
        )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def encrypted_pdf(user_password: str = "secret") -> bytes:
    import pikepdf

    pdf = pikepdf.open(io.BytesIO(text_pdf([["CONFIDENTIAL"]])))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user=user_password, owner="owner-" + user_password, R=6))
    return out.getvalue()


def multipage_tiff(pages: list[np.ndarray], *, compression: str = "tiff_lzw") -> bytes:
    """All ``pages`` (gray uint8 arrays) as frames of one TIFF."""
    frames = [Image.fromarray(p) for p in pages]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:], compression=compression)
    return buf.getvalue()


# --------------------------------------------------------------------------- hand-built (hostile) PDFs


def raw_pdf(objects: list[bytes], *, root: int = 1, trailer_extra: bytes = b"") -> bytes:
    """A syntactically valid PDF from object bodies (object ``i + 1`` is ``objects[i]``), with xref."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        root,
        trailer_extra,
        xref,
    )
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"", *, compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data, 9)
        extra += b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _one_page(
    media_box: bytes = b"[0 0 612 792]", content: bytes = b"", page_extra: bytes = b"", *, compress: bool = False
) -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox " + media_box + b" /Contents 4 0 R " + page_extra + b">>",
        _stream(content, compress=compress),
    ]


def huge_page_pdf() -> bytes:
    """One page of 10^7 x 10^7 points (PDF's own limit is 14,400): unbounded, 10^13 pixels at 200 dpi."""
    return raw_pdf(_one_page(b"[0 0 10000000 10000000]", b"0 0 0 rg 0 0 5000000 5000000 re f"))


def sliver_page_pdf() -> bytes:
    """A page 10^6 points wide and 1 point high."""
    return raw_pdf(_one_page(b"[0 0 1000000 1]", b"0 0 0 rg 0 0 1000 1 re f"))


def million_pages_pdf() -> bytes:
    """A page tree that declares 1,000,000 pages (and holds one)."""
    objs = _one_page()
    objs[1] = b"<< /Type /Pages /Kids [3 0 R] /Count 1000000 >>"
    return raw_pdf(objs)


def many_real_pages_pdf(pages: int) -> bytes:
    """``pages`` real (blank) pages sharing one content stream: a small file, a long document."""
    kids = b" ".join(b"%d 0 R" % (4 + i) for i in range(pages))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        _stream(b""),
    ]
    objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>"] * pages
    return raw_pdf(objs)


def deep_nesting_pdf(depth: int = 100_000) -> bytes:
    """An array nested ``depth`` deep in the page dictionary (a stack-exhaustion attempt), and a
    page tree nested 2,000 levels deep."""
    nested = b"[" * depth + b"]" * depth
    objs = _one_page(content=b"0 0 0 rg 10 10 50 50 re f", page_extra=b"/Junk " + nested + b" ")
    # a chain of /Pages nodes: 2 -> 5 -> 6 -> ... -> the page (3)
    levels = 2000
    first = len(objs) + 1
    objs[1] = b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % first
    for i in range(levels):
        kid = first + i + 1 if i < levels - 1 else 3
        parent = first + i - 1 if i else 2
        objs.append(b"<< /Type /Pages /Parent %d 0 R /Kids [%d 0 R] /Count 1 >>" % (parent, kid))
    objs[2] = objs[2].replace(b"/Parent 2 0 R", b"/Parent %d 0 R" % (first + levels - 1))
    return raw_pdf(objs)


def javascript_pdf() -> bytes:
    """A page with text and an /OpenAction that runs JavaScript (never executed by us)."""
    objs = _one_page(
        content=b"BT /F1 24 Tf 72 700 Td (HELLO) Tj ET", page_extra=b"/Resources << /Font << /F1 6 0 R >> >> "
    )
    objs[0] = b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R /Names << /JavaScript << /Names [(x) 5 0 R] >> >> >>"
    objs.append(b"<< /Type /Action /S /JavaScript /JS (while (true) { app.alert('pwned'); }) >>")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return raw_pdf(objs)


@functools.lru_cache(maxsize=2)
def flate_bomb_pdf(inflated_bytes: int = 1_500_000_000) -> bytes:
    """A content stream of ~1.5 MB that inflates to ``inflated_bytes`` of spaces.

    Built without compressing 1.5 GB: after a full flush a deflate compressor starts afresh, so every
    flushed 1 MiB chunk of spaces compresses to the same bytes, which are repeated; only the final
    Adler-32 is computed over the whole (cheaply, chunk by chunk).
    """
    chunk = b" " * (1 << 20)
    tail = b"0 0 0 rg 0 0 10 10 re f"
    comp = zlib.compressobj(9)
    head = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)  # with the 2-byte zlib header
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    end = comp.compress(tail) + comp.flush()
    n = inflated_bytes >> 20
    adler = 1
    for _ in range(n):
        adler = zlib.adler32(chunk, adler)
    adler = zlib.adler32(tail, adler)
    data = head + block * (n - 1) + end[:-4] + struct.pack(">I", adler)
    objs = _one_page()
    objs[3] = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
    return raw_pdf(objs)


def image_bomb_pdf() -> bytes:
    """An image XObject declaring 100,000 x 100,000 pixels (10^10 bytes of gray) in a few KB of Flate."""
    comp = zlib.compressobj(9)
    row = b"\0" * 100_000
    data = b"".join(comp.compress(row) for _ in range(2000)) + comp.flush()  # truncated: 2000 of 100k rows
    objs = _one_page(
        content=b"q 612 0 0 792 0 0 cm /Im0 Do Q", page_extra=b"/Resources << /XObject << /Im0 5 0 R >> >> "
    )
    objs.append(
        b"<< /Type /XObject /Subtype /Image /Width 100000 /Height 100000 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"
    )
    return raw_pdf(objs)


def slow_page_pdf(paths: int = 200_000) -> bytes:
    """One page with ``paths`` overlapping translucent circles: slow to render by design."""
    circle = b"0.5 g 300 400 m 300 600 500 600 500 400 c 500 200 300 200 300 400 c f\n"
    return raw_pdf(_one_page(content=circle * paths, compress=True))


def not_a_pdf() -> bytes:
    """Starts like a PDF, then garbage: fails to parse."""
    return b"%PDF-1.7\n" + bytes(range(256)) * 64
