"""hOCR 1.2 (XHTML): ``ocr_page`` > ``ocr_carea`` > ``ocr_line`` > ``ocrx_word``, with bbox and x_wconf.

Built with :mod:`xml.etree.ElementTree` rather than string templates, so every text and attribute
is escaped by construction.  Confidences are percentages (the spec's recommendation for x_wconf).
One ``ocr_carea`` per text block (one for a page without columns; one per column of running text
and per heading across columns, see :mod:`ocr_server.detection.layout`).  Words are
separated by a space only where the line has one (CJK words touch, see
:func:`~ocr_server.recognition.words.word_separators`); the document's ``lang`` is the model's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from ..recognition.words import word_separators
from .model import Document, Page, line_blocks

if TYPE_CHECKING:
    from ..pipeline import OcrLine

MEDIA_TYPE = "text/html; charset=utf-8"
XHTML_NS = "http://www.w3.org/1999/xhtml"
DOCTYPE = (
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
    '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">'
)


def _bbox(box: tuple[int, int, int, int]) -> str:
    return "bbox {} {} {} {}".format(*(int(v) for v in box))


def _union(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def _page(body: ET.Element, page: Page) -> None:
    n = page.number
    div = ET.SubElement(
        body,
        "div",
        {
            "class": "ocr_page",
            "id": f"page_{n}",
            "title": f"{_bbox((0, 0, page.width, page.height))}; ppageno {n - 1}; "
            f"scan_res {round(page.dpi)} {round(page.dpi)}",
        },
    )
    if not page.lines:
        return
    i = 0
    for k, lines in enumerate(line_blocks(page.lines), start=1):
        area = ET.SubElement(
            div, "div", {"class": "ocr_carea", "id": f"block_{n}_{k}", "title": _bbox(_union([ln.box for ln in lines]))}
        )
        for line in lines:
            i += 1
            _line(area, line, n, i)


def _line(area: ET.Element, line: OcrLine, n: int, i: int) -> None:
    """One ``ocr_line`` (the ``i``-th of page ``n``) with its words as ``ocrx_word``."""
    span = ET.SubElement(
        area,
        "span",
        {
            "class": "ocr_line",
            "id": f"line_{n}_{i}",
            "title": f"{_bbox(line.box)}; x_wconf {round(line.confidence * 100)}",
        },
    )
    words = line.words or ()
    if not words:
        span.text = line.text
        return
    separators = word_separators(line.text, [w.text for w in words])
    for j, (word, sep) in enumerate(zip(words, separators, strict=True), start=1):
        w = ET.SubElement(
            span,
            "span",
            {
                "class": "ocrx_word",
                "id": f"word_{n}_{i}_{j}",
                "title": f"{_bbox(word.box)}; x_wconf {round(word.confidence * 100)}",
            },
        )
        w.text = word.text
        w.tail = sep or None  # Chinese words touch: no space is invented between them


def write_hocr(doc: Document) -> bytes:
    """The hOCR document for all pages (UTF-8 XHTML)."""
    lang = doc.language or "en"  # every bundle before crnn-zh reads English
    html = ET.Element("html", {"xmlns": XHTML_NS, "xml:lang": lang, "lang": lang})
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "title").text = "OCR result"
    ET.SubElement(head, "meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    system = "ocr-crnn" + (f" {doc.model.name} {doc.model.version}" if doc.model else "")
    ET.SubElement(head, "meta", {"name": "ocr-system", "content": system})
    ET.SubElement(head, "meta", {"name": "ocr-capabilities", "content": "ocr_page ocr_carea ocr_line ocrx_word"})
    ET.SubElement(head, "meta", {"name": "ocr-number-of-pages", "content": str(len(doc.pages))})
    body = ET.SubElement(html, "body")
    for page in doc.pages:
        _page(body, page)
    # newlines between block elements only: whitespace inside a line would change its text
    for el in html.iter():
        if el.get("class") in ("ocr_page", "ocr_carea", "ocr_line") or el.tag in ("head", "body", "meta", "title"):
            el.tail = "\n"
        if el.get("class") in ("ocr_page", "ocr_carea") or el.tag in ("html", "head", "body"):
            el.text = (el.text or "") + "\n" if not el.text else el.text
    xml = ET.tostring(html, encoding="unicode", short_empty_elements=False)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + DOCTYPE + "\n" + xml + "\n").encode("utf-8")
