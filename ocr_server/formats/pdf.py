"""Searchable PDF: each page image with the recognised words as invisible text laid over it.

Why pikepdf (qpdf, MPL-2.0, maintained, manylinux wheels): it writes correct cross-reference tables
and compressed object streams, and lets us write the content stream ourselves, which is all this
needs: the page image as a JPEG XObject (``DCTDecode``, bytes passed through) and, per word, text in
render mode 3 (neither filled nor stroked: invisible, yet found, selected and copied by viewers).

Placement, as Tesseract does it: the font is Helvetica (one of the 14 standard fonts, nothing
embedded) with WinAnsiEncoding, which covers the model's whole charset, so viewers map the text back
to Unicode; its ``/Widths`` are overridden to a uniform half em, so a word of *n* characters is
``0.5 * n * size`` wide before horizontal scaling, and ``Tz`` stretches it to exactly the word box.
The font size is the line box height and the baseline sits a fifth of it above the line's bottom.
"""

from __future__ import annotations

import io

from .model import Document, Page

MEDIA_TYPE = "application/pdf"
CHAR_WIDTH = 500  # /Widths of every glyph, in 1/1000 em
DESCENT = 0.2  # baseline above the line box's bottom, in font sizes
_SPECIAL = {ord("\\"): "\\\\", ord("("): "\\(", ord(")"): "\\)"}


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding (cp1252); characters outside it become '?'."""
    raw = text.encode("cp1252", errors="replace")
    out = bytearray(b"(")
    for b in raw:
        if b in _SPECIAL:
            out += _SPECIAL[b].encode()
        elif 32 <= b < 127:
            out.append(b)
        else:
            out += b"\\%03o" % b
    return bytes(out + b")")


def _text_ops(page: Page, sx: float, sy: float, height_pt: float) -> list[bytes]:
    """Content-stream operators drawing each word invisibly over its box (pixels → points)."""
    ops = [b"BT", b"3 Tr"]
    for line in page.lines:
        size = max(1.0, (line.box[3] - line.box[1]) * sy)
        baseline = height_pt - line.box[3] * sy + DESCENT * size
        words = line.words or ((line,) if line.text.strip() else ())
        for k, word in enumerate(words):
            text = word.text if k == len(words) - 1 else word.text + " "
            n = len(text)
            if not n:
                continue
            width_pt = max(0.1, (word.box[2] - word.box[0]) * sx)
            if k < len(words) - 1:  # the space spans the gap to the next word
                width_pt = max(0.1, (words[k + 1].box[0] - word.box[0]) * sx)
            scale = 100.0 * width_pt / (n * CHAR_WIDTH / 1000.0 * size)
            ops.append(
                b"/F1 %.2f Tf %.2f Tz 1 0 0 1 %.2f %.2f Tm " % (size, scale, word.box[0] * sx, baseline)
                + _pdf_string(text)
                + b" Tj"
            )
    ops.append(b"ET")
    return ops


def write_pdf(doc: Document) -> bytes:
    """The searchable PDF of all pages; a page without a kept image is text only (white)."""
    import pikepdf

    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica,
            Encoding=pikepdf.Name.WinAnsiEncoding,
            FirstChar=0,
            LastChar=255,
            Widths=pikepdf.Array([CHAR_WIDTH] * 256),
        )
    )
    for page in doc.pages:
        w_pt, h_pt = page.page_size_pt
        sx, sy = w_pt / page.width, h_pt / page.height
        resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        ops: list[bytes] = []
        if page.image is not None:
            w, h = page.image.width, page.image.height
            space = "/DeviceGray" if page.image.gray else "/DeviceRGB"
            image = pdf.make_stream(
                page.image.jpeg,
                Type=pikepdf.Name.XObject,
                Subtype=pikepdf.Name.Image,
                Width=w,
                Height=h,
                ColorSpace=pikepdf.Name(space),
                BitsPerComponent=8,
                Filter=pikepdf.Name.DCTDecode,
            )
            resources.XObject = pikepdf.Dictionary(Im0=image)
            ops.append(b"q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q" % (w_pt, h_pt))
        ops += _text_ops(page, sx, sy, h_pt)
        contents = pdf.make_stream(b"\n".join(ops))
        pdf.pages.append(
            pikepdf.Page(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Page,
                    MediaBox=[0, 0, round(w_pt, 4), round(h_pt, 4)],
                    Contents=contents,
                    Resources=resources,
                )
            )
        )
    pdf.docinfo["/Producer"] = "ocr-crnn" + (f" {doc.model.name} {doc.model.version}" if doc.model else "")
    out = io.BytesIO()
    pdf.save(out, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()
