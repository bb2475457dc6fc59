"""Each output format written from a hand-made result and parsed back: text, hOCR, ALTO (against the
official 4.4 XSD), searchable PDF (text and positions extracted back with PDFium), JSON shapes."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from ocr_server.errors import UnknownFormat
from ocr_server.formats import FORMATS, choose_format
from ocr_server.formats.alto import write_alto
from ocr_server.formats.hocr import write_hocr
from ocr_server.formats.json_format import to_json
from ocr_server.formats.model import Document, ModelRef, Page, PageImage
from ocr_server.formats.pdf import write_pdf
from ocr_server.formats.text import write_text
from ocr_server.pipeline import OcrLine
from ocr_server.recognition.words import OcrWord
from ocr_server.shared_data import data_root
from tests.needs import missing

# shared/schemas sits beside shared/data: follow $OCR_SHARED_DATA like the datasets do
SCHEMAS = data_root().parent / "schemas"
ALTO_XSD = SCHEMAS / "alto-4-4.xsd"


def _line(words: list[tuple[str, tuple[int, int, int, int]]], conf: float = 0.9) -> OcrLine:
    ws = tuple(OcrWord(t, conf, b) for t, b in words)
    box = (
        min(b[0] for _, b in words),
        min(b[1] for _, b in words),
        max(b[2] for _, b in words),
        max(b[3] for _, b in words),
    )
    return OcrLine(" ".join(t for t, _ in words), conf, box, ws)


def _document(*, image: bool = False, multipage: bool = True) -> Document:
    page1 = [
        _line([("TOTAL", (100, 100, 300, 140)), ("12.50", (340, 100, 480, 140))], 0.97),
        _line([("Café", (100, 200, 260, 240)), ("<&>", (300, 200, 380, 240)), ("5€", (420, 200, 500, 240))], 0.8),
    ]
    page2 = [_line([("second", (50, 60, 250, 100))], 0.5)]
    pixels = np.full((1100, 850), 255, dtype=np.uint8)
    pages = [
        Page(1, 850, 1100, page1, dpi=100.0, image=PageImage.encode(pixels) if image else None),
        Page(2, 850, 1100, page2, dpi=100.0, size_pt=(612.0, 792.0)),
    ]
    return Document("pdf", pages if multipage else pages[:1], multipage, ModelRef("crnn-en", "1.1.0"), {"total": 1.0})


def test_text_is_pages_separated_by_form_feed() -> None:
    assert write_text(_document()).decode() == "TOTAL 12.50\nCafé <&> 5€\fsecond\n"


def test_hocr_parses_with_pages_lines_words_bbox_and_confidence() -> None:
    from lxml import etree

    root = etree.fromstring(write_hocr(_document()))
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    pages = root.xpath("//h:div[@class='ocr_page']", namespaces=ns)
    assert [p.get("title").split(";")[0] for p in pages] == ["bbox 0 0 850 1100"] * 2
    assert "ppageno 1" in pages[1].get("title")
    lines = root.xpath("//h:span[@class='ocr_line']", namespaces=ns)
    words = root.xpath("//h:span[@class='ocrx_word']", namespaces=ns)
    assert len(lines) == 3 and len(words) == 6
    assert [w.text for w in words] == ["TOTAL", "12.50", "Café", "<&>", "5€", "second"]
    assert words[0].get("title") == "bbox 100 100 300 140; x_wconf 97"
    assert re.match(r"bbox 100 100 480 140; x_wconf 97", lines[0].get("title"))
    # the line's text content is its words separated by single spaces
    assert "".join(lines[1].itertext()) == "Café <&> 5€"
    meta = {m.get("name"): m.get("content") for m in root.xpath("//h:meta[@name]", namespaces=ns)}
    assert meta["ocr-capabilities"].split() == ["ocr_page", "ocr_carea", "ocr_line", "ocrx_word"]
    assert meta["ocr-system"] == "ocr-crnn crnn-en 1.1.0"


def test_alto_is_valid_against_the_4_4_schema_and_carries_words() -> None:
    from lxml import etree

    if not ALTO_XSD.is_file():
        missing(f"shared schema absent: {ALTO_XSD}")
    schema = etree.XMLSchema(etree.parse(str(ALTO_XSD)))
    doc = etree.fromstring(write_alto(_document(), file_name="in.pdf"))
    assert schema.validate(doc), schema.error_log
    ns = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
    strings = doc.xpath("//a:String", namespaces=ns)
    assert [s.get("CONTENT") for s in strings] == ["TOTAL", "12.50", "Café", "<&>", "5€", "second"]
    first = strings[0]
    assert (first.get("HPOS"), first.get("VPOS"), first.get("WIDTH"), first.get("HEIGHT")) == (
        "100",
        "100",
        "200",
        "40",
    )
    assert float(first.get("WC")) == pytest.approx(0.97)
    assert len(doc.xpath("//a:Page", namespaces=ns)) == 2
    assert len(doc.xpath("//a:TextLine", namespaces=ns)) == 3
    assert doc.xpath("//a:SP", namespaces=ns)[0].get("HPOS") == "300"
    # an invalid document is caught by the same schema (the check can fail)
    strings[0].attrib.pop("CONTENT")
    assert not schema.validate(doc)


def _extract_words(pdf_bytes: bytes) -> list[list[tuple[str, tuple[float, float, float, float]]]]:
    """Words per page with their boxes in PDF points (top-left origin), from PDFium's text page."""
    import pypdfium2 as pdfium

    out = []
    pdf = pdfium.PdfDocument(pdf_bytes)
    for i in range(len(pdf)):
        page = pdf[i]
        height = page.get_height()
        tp = page.get_textpage()
        words, current, boxes = [], "", []
        for k in range(tp.count_chars()):
            ch = tp.get_text_range(k, 1)
            if ch.isspace() or not ch:
                if current:
                    words.append((current, boxes))
                current, boxes = "", []
                continue
            current += ch
            boxes.append(tp.get_charbox(k, loose=True))
        if current:
            words.append((current, boxes))
        out.append(
            [
                (
                    w,
                    (
                        min(b[0] for b in bs),
                        height - max(b[3] for b in bs),
                        max(b[2] for b in bs),
                        height - min(b[1] for b in bs),
                    ),
                )
                for w, bs in words
            ]
        )
    return out


def _columns_document() -> Document:
    """A title (block 0) over two columns (blocks 1 and 2) of two lines each."""
    title = _line([("Columns", (100, 40, 400, 80))])
    left = [_line([(f"left{i}", (100, 100 + 40 * i, 380, 130 + 40 * i))]) for i in range(2)]
    right = [_line([(f"right{i}", (450, 100 + 40 * i, 730, 130 + 40 * i))]) for i in range(2)]
    lines = [dataclasses.replace(ln, block=b) for ln, b in zip([title, *left, *right], [0, 1, 1, 2, 2], strict=True)]
    return Document("image", [Page(1, 850, 1100, lines)], False, ModelRef("crnn-en", "1.5.0"), {"total": 1.0})


def test_text_blocks_become_alto_text_blocks_and_hocr_careas() -> None:
    from lxml import etree

    doc = _columns_document()
    ns = {"h": "http://www.w3.org/1999/xhtml", "a": "http://www.loc.gov/standards/alto/ns-v4#"}
    hocr = etree.fromstring(write_hocr(doc))
    areas = hocr.xpath("//h:div[@class='ocr_carea']", namespaces=ns)
    assert [a.get("title") for a in areas] == ["bbox 100 40 400 80", "bbox 100 100 380 170", "bbox 450 100 730 170"]
    assert [len(a.xpath(".//h:span[@class='ocr_line']", namespaces=ns)) for a in areas] == [1, 2, 2]
    alto = etree.fromstring(write_alto(doc))
    blocks = alto.xpath("//a:TextBlock", namespaces=ns)
    assert [b.get("ID") for b in blocks] == ["block_1_1", "block_1_2", "block_1_3"]
    assert [s.get("CONTENT") for s in blocks[2].xpath(".//a:String", namespaces=ns)] == ["right0", "right1"]
    lines = alto.xpath("//a:TextLine", namespaces=ns)
    assert [ln.get("ID") for ln in lines] == [f"line_1_{i}" for i in range(1, 6)]  # numbered across blocks
    if ALTO_XSD.is_file():
        schema = etree.XMLSchema(etree.parse(str(ALTO_XSD)))
        assert schema.validate(alto), schema.error_log
    assert [ln["block"] for ln in to_json(doc)["lines"]] == [0, 1, 1, 2, 2]


def test_searchable_pdf_places_every_word_over_its_box() -> None:
    doc = _document(image=True)
    data = write_pdf(doc)
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    assert len(pdf) == 2
    assert pdf[0].get_size() == pytest.approx((612.0, 792.0))  # 850 px at 100 dpi = 8.5 in
    assert pdf[1].get_size() == pytest.approx((612.0, 792.0))  # the source PDF's own size
    assert "TOTAL 12.50" in pdf[0].get_textpage().get_text_range()
    pages = _extract_words(data)
    scale = 72.0 / 100.0
    for page, extracted in zip(doc.pages, pages, strict=True):
        expected = [w for line in page.lines for w in line.words]
        assert [t for t, _ in extracted] == [w.text for w in expected]
        for (_text, got), word in zip(extracted, expected, strict=True):
            want = tuple(v * scale for v in word.box)
            assert got[0] == pytest.approx(want[0], abs=2.0)  # left edge
            assert got[2] == pytest.approx(want[2], abs=0.2 * (want[2] - want[0]) + 2.0)  # right edge
            centre_y = (got[1] + got[3]) / 2.0
            assert want[1] <= centre_y <= want[3]  # vertically inside the word box


def test_searchable_pdf_text_is_invisible_and_the_image_is_drawn() -> None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(write_pdf(_document(image=True)))
    bitmap = pdf[0].render(scale=0.5, grayscale=True).to_numpy()
    assert bitmap.min() > 200  # the page image is white and the text draws nothing
    kinds = [obj.type for obj in pdf[0].get_objects()]
    import pypdfium2.raw as c

    assert c.FPDF_PAGEOBJ_IMAGE in kinds and c.FPDF_PAGEOBJ_TEXT in kinds


def test_json_single_image_keeps_the_original_shape() -> None:
    body = to_json(_document(multipage=False))
    assert set(body) == {"text", "lines", "image", "model", "timings_ms"}
    assert set(body["lines"][0]) == {"text", "confidence", "box", "block"}
    with_words = to_json(_document(multipage=False), words=True)
    assert with_words["lines"][0]["words"][1] == {"text": "12.50", "confidence": 0.97, "box": [340, 100, 480, 140]}


def test_json_document_has_pages() -> None:
    body = to_json(_document(image=True), page_images=True)
    assert set(body) == {"text", "document", "pages", "model", "timings_ms"}
    assert body["document"] == {"type": "pdf", "pages": 2}
    assert [p["page"] for p in body["pages"]] == [1, 2]
    assert body["pages"][0]["image"].startswith("data:image/jpeg;base64,")
    assert body["pages"][1]["image"] is None
    assert body["text"].split("\f") == [p["text"] for p in body["pages"]]


@pytest.mark.parametrize(
    ("param", "accept", "expected"),
    [
        (None, [], "json"),
        (None, [("*/*", 1.0)], "json"),
        (None, [("application/pdf", 1.0)], "pdf"),
        (None, [("text/plain", 0.5), ("application/xml", 0.9)], "alto"),
        (None, [("text/html", 1.0), ("application/xhtml+xml", 1.0)], "hocr"),
        (None, [("image/png", 1.0)], "json"),
        ("TEXT", [("application/pdf", 1.0)], "text"),
        ("txt", [], "text"),
        ("hocr", [], "hocr"),
    ],
)
def test_format_negotiation(param: str | None, accept: list[tuple[str, float]], expected: str) -> None:
    assert choose_format(param, accept).name == expected


def test_unknown_format_is_a_400() -> None:
    with pytest.raises(UnknownFormat) as err:
        choose_format("docx", [])
    assert err.value.status == 400 and "json, text, hocr, alto, pdf" in err.value.message
    assert set(FORMATS) == {"json", "text", "hocr", "alto", "pdf"}


def test_pages_without_lines_are_valid_in_every_format() -> None:
    from lxml import etree

    doc = Document("pdf", [Page(1, 100, 50, []), Page(2, 100, 50, [])], True, None)
    assert write_text(doc) == b"\f\n"
    assert len(etree.fromstring(write_hocr(doc)).xpath("//*[@class='ocr_page']")) == 2
    if ALTO_XSD.is_file():
        schema = etree.XMLSchema(etree.parse(str(ALTO_XSD)))
        assert schema.validate(etree.fromstring(write_alto(doc))), schema.error_log
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(write_pdf(doc))
    assert len(pdf) == 2 and pdf[0].get_textpage().get_text_range() == ""
