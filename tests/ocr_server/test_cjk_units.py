"""Chinese after recognition, piece by piece: words, output formats, the per-request model rule and
its config (no model, no server; the end-to-end proof is ``test_cjk_server.py``)."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from ocr_server.config import DEFAULT_MODEL_VERSION, ConfigError, parse_config
from ocr_server.errors import UnknownModel
from ocr_server.formats.alto import write_alto
from ocr_server.formats.glyphless import cid_of, encode_text
from ocr_server.formats.hocr import write_hocr
from ocr_server.formats.model import Document, ModelRef, Page
from ocr_server.formats.pdf import write_pdf
from ocr_server.formats.text import write_text
from ocr_server.model_choice import choose_model, parse_model_param
from ocr_server.pipeline import OcrLine
from ocr_server.recognition.recognizer import ModelInfo
from ocr_server.recognition.words import OcrWord, word_ranges, word_separators

ALTO_XSD = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "alto-4-4.xsd"
INVOICE = "发票号码 2026年11月30日，合计¥128.00。"


def _words(text: str) -> list[str]:
    return [text[a:b] for a, b in word_ranges(text)]


def test_each_wide_character_is_a_word_and_latin_digit_runs_stay_words() -> None:
    assert _words(INVOICE) == [
        *"发票号码",
        "2026", "年", "11", "月", "30", "日", "，", "合", "计", "¥128.00", "。",
    ]  # fmt: skip
    assert _words("TOTAL 12.50 RM") == ["TOTAL", "12.50", "RM"]  # English unchanged
    assert _words("ＡＢ（株）") == ["Ａ", "Ｂ", "（", "株", "）"]  # full-width forms are wide too
    assert _words("  ") == []


def test_separators_keep_chinese_words_touching_and_english_spaced() -> None:
    words = _words(INVOICE)
    seps = word_separators(INVOICE, words)
    assert "".join(w + s for w, s in zip(words, seps, strict=True)) == INVOICE
    assert seps[3] == " " and seps.count(" ") == 1 and seps[-1] == ""
    assert word_separators("A  B", ["A", "B"]) == [" ", ""]
    assert word_separators("ABC", ["X", "Y"]) == [" ", ""]  # words not in the text: spaced, as before


def _zh_document() -> Document:
    """One line of the invoice, a box per word (20 px a character), as the pipeline makes it."""
    spans = word_ranges(INVOICE)
    words = tuple(OcrWord(INVOICE[a:b], 0.9, (100 + 20 * a, 50, 100 + 20 * b, 80)) for a, b in spans)
    line = OcrLine(INVOICE, 0.9, (100, 50, 100 + 20 * len(INVOICE), 80), words)
    second = OcrLine("谢谢惠顾！", 0.8, (100, 120, 200, 150), ())
    page = Page(1, 1000, 400, [line, second], dpi=150.0)
    return Document("png", [page], False, ModelRef("crnn-zh", "1.0.0", "zh-Hans"))


def test_text_output_is_utf8_chinese() -> None:
    assert write_text(_zh_document()).decode("utf-8") == INVOICE + "\n谢谢惠顾！\n"


def test_hocr_has_one_word_per_character_no_invented_spaces_and_the_model_language() -> None:
    from lxml import etree

    root = etree.fromstring(write_hocr(_zh_document()))
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    assert root.get("lang") == "zh-Hans"
    lines = root.findall(".//h:span[@class='ocr_line']", ns)
    words = lines[0].findall("h:span[@class='ocrx_word']", ns)
    assert [w.text for w in words] == _words(INVOICE)
    assert "".join(lines[0].itertext()) == INVOICE  # the line's text is exactly what was read
    assert "".join(lines[1].itertext()) == "谢谢惠顾！"
    english = Document("png", [Page(1, 100, 100, [])], False, ModelRef("crnn-en", "1.2.0"))
    assert etree.fromstring(write_hocr(english)).get("lang") == "en"  # a bundle without language: English


def test_alto_is_valid_with_chinese_strings_and_spaces_only_where_the_line_has_them() -> None:
    from lxml import etree

    if not ALTO_XSD.is_file():
        pytest.skip(f"shared schema absent: {ALTO_XSD}")
    doc = etree.fromstring(write_alto(_zh_document()))
    schema = etree.XMLSchema(etree.parse(str(ALTO_XSD)))
    assert schema.validate(doc), schema.error_log
    ns = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
    line = doc.find(".//a:TextLine", ns)
    parts = ["" if el.tag.endswith("SP") else el.get("CONTENT") for el in line]
    assert [p for p in parts if p] == _words(INVOICE)
    assert parts.count("") == 1  # one SP: the only space of the line
    assert doc.find(".//a:TextBlock", ns).get("LANG") == "zh-Hans"


def test_glyphless_codes_are_code_points() -> None:
    assert encode_text("发A") == b"<53D10041>"
    assert cid_of("\U00020000") == 0xFFFD  # beyond the BMP: the replacement character


def test_searchable_pdf_gives_the_chinese_text_back_and_draws_nothing() -> None:
    data = write_pdf(_zh_document())
    page = pdfium.PdfDocument(data)[0]
    text = page.get_textpage().get_text_range()
    assert text.split("\r\n") == [INVOICE, "谢谢惠顾！"]
    assert int(page.render(scale=1).to_numpy().min()) == 255  # render mode 3: invisible


def test_model_param_rules() -> None:
    loaded = [ModelInfo("crnn-zh", "1.0.0", 48, 7000), ModelInfo("crnn-en", "1.2.0", 32, 116),
              ModelInfo("crnn-en", "1.1.0", 32, 116)]  # fmt: skip
    assert choose_model(loaded, None) == 0 and choose_model(loaded, " ") == 0
    assert choose_model(loaded, "crnn-zh") == 0
    assert choose_model(loaded, "crnn-en") == 1  # the newest of that name
    assert choose_model(loaded, "crnn-en:1.1.0") == 2 and choose_model(loaded, "crnn-en@1.1.0") == 2
    assert parse_model_param("crnn-zh:1.0.0-rc.1") == ("crnn-zh", "1.0.0-rc.1")
    with pytest.raises(UnknownModel, match=r"crnn-fr is not loaded .*crnn-zh:1.0.0, crnn-en:1.2.0"):
        choose_model(loaded, "crnn-fr")
    with pytest.raises(UnknownModel, match="not loaded"):
        choose_model(loaded, "crnn-en:9.9.9")
    with pytest.raises(UnknownModel, match="NAME or NAME:VERSION"):
        choose_model(loaded, "../../etc/passwd")
    assert UnknownModel.status == 400 and UnknownModel.code == "unknown_model"


def test_config_additional_models() -> None:
    cfg = parse_config(
        {"model": {"name": "crnn-zh", "version": "1.0.0", "additional": [{"name": "crnn-en", "version": "1.2.0"}]}}
    )
    assert [(m.name, m.version) for m in cfg.model.additional] == [("crnn-en", "1.2.0")]
    assert "additional" in cfg.to_yaml()
    assert "additional" not in parse_config({}).to_yaml()  # configs without it render as before
    with pytest.raises(ConfigError, match="listed twice"):
        parse_config({"model": {"additional": [{"name": "crnn-en", "version": DEFAULT_MODEL_VERSION}]}})
    with pytest.raises(ConfigError, match=r"model\.additional\.0\.name"):
        parse_config({"model": {"additional": [{"name": "Crnn_ZH", "version": "1.0.0"}]}})


def _app_with(loader):  # type: ignore[no-untyped-def]
    from ocr_server.app import create_app

    config = {"model": {"name": "crnn-zh", "version": "1.0.0", "additional": [{"name": "crnn-en", "version": "1.2.0"}]}}
    return create_app(parse_config(config), load_model="sync", recognizer_loader=loader)


def test_every_configured_model_is_loaded_and_picked_per_request(page_png: bytes) -> None:
    from dataclasses import replace

    from server_support import TinyRecognizer

    def loader(name: str, version: str, *_: object, **__: object) -> TinyRecognizer:
        tiny = TinyRecognizer()
        tiny.info = replace(tiny.info, name=name, version=version)
        return tiny

    client = _app_with(loader).test_client()
    info = client.get("/api/v1/info").json
    assert [(m["name"], m["default"]) for m in info["models"]] == [("crnn-zh", True), ("crnn-en", False)]
    files = {"image": (io.BytesIO(page_png), "p.png")}
    answer = client.post("/api/v1/recognize?model=crnn-en", data=files, content_type="multipart/form-data")
    assert answer.status_code == 200 and answer.json["model"] == {"name": "crnn-en", "version": "1.2.0"}
    unknown = client.post("/api/v1/recognize?model=crnn-fr", data={"image": (io.BytesIO(page_png), "p.png")})
    assert unknown.status_code == 400 and unknown.json["error"]["code"] == "unknown_model"


def test_a_model_that_fails_to_load_keeps_the_server_unready_naming_it() -> None:
    from server_support import TinyRecognizer

    def loader(name: str, version: str, *_: object, **__: object) -> TinyRecognizer:
        if name == "crnn-en":
            raise FileNotFoundError("model.onnx missing")
        return TinyRecognizer()

    app = _app_with(loader)
    client = app.test_client()
    ready = client.get("/ready")
    assert ready.status_code == 503 and "crnn-en-1.2.0 failed to load" in ready.json["error"]["message"]
