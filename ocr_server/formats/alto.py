"""ALTO XML v4 (4.4 schema): ``Page`` > ``PrintSpace`` > ``TextBlock`` > ``TextLine`` > ``String``/``SP``.

Coordinates are in pixels of each page image (``MeasurementUnit`` = pixel), ``WC`` is the word
confidence in [0, 1].  One ``TextBlock`` per text block of the page: one for a page without columns,
one per column of running text and per heading across columns (:mod:`ocr_server.detection.layout`).
Validated against the official 4.4 XSD in the tests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from ..recognition.words import word_separators
from .model import Document, Page, line_blocks

if TYPE_CHECKING:
    from ..pipeline import OcrLine

MEDIA_TYPE = "application/xml; charset=utf-8"
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{ALTO_NS} http://www.loc.gov/alto/v4/alto-4-4.xsd"

Box = tuple[int, int, int, int]


def _geometry(box: Box) -> dict[str, str]:
    x1, y1, x2, y2 = (int(v) for v in box)
    return {"HPOS": str(x1), "VPOS": str(y1), "WIDTH": str(max(0, x2 - x1)), "HEIGHT": str(max(0, y2 - y1))}


def _union(boxes: list[Box]) -> Box:
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def _page(layout: ET.Element, page: Page, lang: str | None) -> None:
    n = page.number
    el = ET.SubElement(
        layout,
        "Page",
        {"ID": f"page_{n}", "PHYSICAL_IMG_NR": str(n), "WIDTH": str(page.width), "HEIGHT": str(page.height)},
    )
    space = ET.SubElement(el, "PrintSpace", {"ID": f"space_{n}", **_geometry((0, 0, page.width, page.height))})
    if not page.lines:
        return
    i = 0
    for k, lines in enumerate(line_blocks(page.lines), start=1):
        block = ET.SubElement(
            space,
            "TextBlock",
            {"ID": f"block_{n}_{k}", **_geometry(_union([ln.box for ln in lines])), **({"LANG": lang} if lang else {})},
        )
        for line in lines:
            i += 1
            _line(block, line, n, i)


def _line(block: ET.Element, line: OcrLine, n: int, i: int) -> None:
    """One ``TextLine`` (the ``i``-th of page ``n``) with its words as ``String``/``SP``."""
    tl = ET.SubElement(block, "TextLine", {"ID": f"line_{n}_{i}", **_geometry(line.box)})
    words = list(line.words) or [line]  # a line without word boxes is one String
    separators = word_separators(line.text, [w.text for w in words])
    for j, word in enumerate(words, start=1):
        if j > 1 and separators[j - 2]:  # SP only where the line has a space (not between CJK words)
            prev = words[j - 2].box
            gap = (prev[2], min(prev[1], word.box[1]), max(prev[2], word.box[0]), max(prev[3], word.box[3]))
            sp = _geometry(gap)
            ET.SubElement(tl, "SP", {"HPOS": sp["HPOS"], "VPOS": sp["VPOS"], "WIDTH": sp["WIDTH"]})
        ET.SubElement(
            tl,
            "String",
            {
                "ID": f"string_{n}_{i}_{j}",
                **_geometry(word.box),
                "CONTENT": word.text,
                "WC": f"{min(1.0, max(0.0, word.confidence)):.4f}",
            },
        )


def write_alto(doc: Document, *, file_name: str = "") -> bytes:
    """The ALTO document for all pages (UTF-8)."""
    ET.register_namespace("", ALTO_NS)
    q = f"{{{ALTO_NS}}}"
    root = ET.Element("alto", {f"{{{XSI_NS}}}schemaLocation": SCHEMA_LOCATION})
    desc = ET.SubElement(root, "Description")
    ET.SubElement(desc, "MeasurementUnit").text = "pixel"
    if file_name:
        info = ET.SubElement(desc, "sourceImageInformation")
        ET.SubElement(info, "fileName").text = file_name
    proc = ET.SubElement(desc, "OCRProcessing", {"ID": "ocr_1"})
    step = ET.SubElement(proc, "ocrProcessingStep")
    software = ET.SubElement(step, "processingSoftware")
    ET.SubElement(software, "softwareName").text = "ocr-crnn"
    if doc.model:
        ET.SubElement(software, "softwareVersion").text = f"{doc.model.name} {doc.model.version}"
    layout = ET.SubElement(root, "Layout")
    lang = doc.language
    for page in doc.pages:
        _page(layout, page, lang)
    for el in root.iter():  # every element in the ALTO namespace
        el.tag = q + el.tag if not el.tag.startswith("{") else el.tag
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")
