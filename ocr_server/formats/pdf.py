"""Searchable PDF: each page image with the recognised words as invisible text laid over it.

Why pikepdf (qpdf, MPL-2.0, maintained, manylinux wheels): it writes correct cross-reference tables
and compressed object streams, and lets us write the content stream ourselves, which is all this
needs: the page image as a JPEG XObject (``DCTDecode``, bytes passed through) and, per word, text in
render mode 3 (neither filled nor stroked: invisible, yet found, selected and copied by viewers).

Placement, as Tesseract does it: the font is a "glyphless" composite font (see
:mod:`.glyphless`) whose codes are Unicode code points, so any script the model reads, Chinese
included, maps back to its characters; every glyph is half an em wide, so a word of *n* characters
is ``0.5 * n * size`` wide before horizontal scaling, and ``Tz`` stretches it to exactly the word box.
Words are followed by a space only where the line has one (Chinese words touch).  The font size is
the line box height and the baseline sits a fifth of it above the line's bottom.
"""

from __future__ import annotations

import io

from ..recognition.words import word_separators
from .glyphless import CHAR_WIDTH, add_glyphless_font, encode_text
from .model import Document, Page

MEDIA_TYPE = "application/pdf"
DESCENT = 0.2  # baseline above the line box's bottom, in font sizes


def _text_ops(page: Page, sx: float, sy: float, height_pt: float) -> list[bytes]:
    """Content-stream operators drawing each word invisibly over its box (pixels → points)."""
    ops = [b"BT", b"3 Tr"]
    for line in page.lines:
        size = max(1.0, (line.box[3] - line.box[1]) * sy)
        baseline = height_pt - line.box[3] * sy + DESCENT * size
        words = line.words or ((line,) if line.text.strip() else ())
        separators = word_separators(line.text, [w.text for w in words])
        for k, (word, sep) in enumerate(zip(words, separators, strict=True)):
            text = word.text + sep
            n = len(text)
            if not n:
                continue
            width_pt = max(0.1, (word.box[2] - word.box[0]) * sx)
            if k < len(words) - 1:  # the word (and its space) spans the gap to the next word
                width_pt = max(0.1, (words[k + 1].box[0] - word.box[0]) * sx)
            scale = 100.0 * width_pt / (n * CHAR_WIDTH / 1000.0 * size)
            ops.append(
                b"/F1 %.2f Tf %.2f Tz 1 0 0 1 %.2f %.2f Tm " % (size, scale, word.box[0] * sx, baseline)
                + encode_text(text)
                + b" Tj"
            )
    ops.append(b"ET")
    return ops


def write_pdf(doc: Document) -> bytes:
    """The searchable PDF of all pages; a page without a kept image is text only (white)."""
    import pikepdf

    pdf = pikepdf.new()
    font = add_glyphless_font(pdf)
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
