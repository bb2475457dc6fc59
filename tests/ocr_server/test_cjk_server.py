"""Chinese end to end through a real gunicorn, without a trained Chinese model.

The server's default model is the cipher bundle ``crnn-zh-0.0.0-test`` (the English network with a
Chinese charset, see ``cjk_support.py``) and ``crnn-en-1.2.0`` is loaded beside it.  A rendered
English page read with ``?model=crnn-en`` and with the default must give ``text`` and
``encipher(text)``: the charset and decoding follow the bundle, per request, and every answer
(JSON, text, hOCR, ALTO, searchable PDF) carries the Chinese characters intact.
"""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
import requests
from cjk_support import CipherModels, render_lines
from PIL import Image
from server_support import RunningServer, encode

from ocr_server.recognition.words import word_ranges

pytestmark = pytest.mark.slow

TIMEOUT = 60
LINES = ["INVOICE NO 4471", "TOTAL 12.50", "PAID: 30.11.2026"]


@pytest.fixture(scope="module")
def english_page() -> bytes:
    page = render_lines(LINES, "latin", size=34, line_gap=1.2, min_height=400)
    return encode(Image.fromarray(page.pixels), "PNG")


def _ocr(server: RunningServer, data: bytes, query: str = "") -> requests.Response:
    return requests.post(f"{server.url}/api/v1/ocr{query}", files={"image": ("page.png", data)}, timeout=TIMEOUT)


def test_info_lists_both_models_with_the_default_first(zh_server: RunningServer) -> None:
    info = requests.get(f"{zh_server.url}/api/v1/info", timeout=5).json()
    assert info["model"]["name"] == "crnn-zh" and info["model"]["version"] == "0.0.0-test"
    assert [(m["name"], m["version"], m["default"]) for m in info["models"]] == [
        ("crnn-zh", "0.0.0-test", True),
        ("crnn-en", "1.2.0", False),
    ]


def test_the_cipher_bundle_reads_the_english_line_as_its_chinese_substitute(
    zh_server: RunningServer, cipher_models: CipherModels, english_page: bytes
) -> None:
    en = _ocr(zh_server, english_page, "?model=crnn-en:1.2.0")
    assert en.status_code == 200, en.text
    assert [ln["text"] for ln in en.json()["lines"]] == LINES  # the English model reads the page exactly
    zh = _ocr(zh_server, english_page)
    assert zh.status_code == 200, zh.text
    body = zh.json()
    assert body["model"] == {"name": "crnn-zh", "version": "0.0.0-test"}
    assert [ln["text"] for ln in body["lines"]] == [cipher_models.encipher(t) for t in LINES]
    assert [ln["box"] for ln in body["lines"]] == [ln["box"] for ln in en.json()["lines"]]
    # UTF-8 JSON with the characters themselves, saying so
    assert zh.headers["Content-Type"] == "application/json; charset=utf-8"
    assert cipher_models.encipher("TOTAL").encode("utf-8") in zh.content and b"\\u" not in zh.content


def test_pre_cropped_lines_follow_the_model_parameter(zh_server: RunningServer, cipher_models: CipherModels) -> None:
    line = render_lines(["TOTAL 12.50"], "latin", size=34, min_height=0, margin=8)
    png = encode(Image.fromarray(line.pixels[: line.boxes[0][3] + 8, : line.boxes[0][2] + 8]), "PNG")
    zh = requests.post(f"{zh_server.url}/api/v1/recognize", files={"image": ("l.png", png)}, timeout=TIMEOUT)
    en = requests.post(
        f"{zh_server.url}/api/v1/recognize?model=crnn-en", files={"image": ("l.png", png)}, timeout=TIMEOUT
    )
    assert en.json()["results"][0]["text"] == "TOTAL 12.50"
    assert zh.json()["results"][0]["text"] == cipher_models.encipher("TOTAL 12.50")
    assert en.json()["model"]["name"] == "crnn-en" and zh.json()["model"]["name"] == "crnn-zh"


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("?model=crnn-fr", "crnn-fr is not loaded by this server (loaded: crnn-zh:0.0.0-test, crnn-en:1.2.0)"),
        ("?model=crnn-en:1.0.0", "crnn-en:1.0.0 is not loaded"),  # installed in the image, not loaded here
        ("?model=%2e%2e%2fetc", "is not NAME or NAME:VERSION"),
    ],
)
def test_an_unknown_model_is_a_400_naming_the_loaded_ones(
    zh_server: RunningServer, english_page: bytes, query: str, fragment: str
) -> None:
    answer = _ocr(zh_server, english_page, query)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "unknown_model" and fragment in answer.json()["error"]["message"]


def test_every_output_format_carries_the_chinese_text(
    zh_server: RunningServer, cipher_models: CipherModels, english_page: bytes
) -> None:
    from lxml import etree

    expected = [cipher_models.encipher(t) for t in LINES]
    text = _ocr(zh_server, english_page, "?format=text")
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.content.decode("utf-8") == "\n".join(expected) + "\n"

    hocr = etree.fromstring(_ocr(zh_server, english_page, "?format=hocr").content)
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    assert hocr.get("lang") == "zh-Hans"
    lines = hocr.findall(".//h:span[@class='ocr_line']", ns)
    assert ["".join(ln.itertext()) for ln in lines] == expected  # no spaces invented between characters
    words = [w.text for w in lines[1].findall("h:span[@class='ocrx_word']", ns)]
    assert words == list(expected[1])  # every Chinese character its own word, as Tesseract's chi_sim

    alto = etree.fromstring(_ocr(zh_server, english_page, "?format=alto").content)
    strings = [s.get("CONTENT") for s in alto.iter("{http://www.loc.gov/standards/alto/ns-v4#}String")]
    assert strings == [w for t in expected for w in (t[a:b] for a, b in word_ranges(t))]

    pdf = _ocr(zh_server, english_page, "?format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    extracted = pdfium.PdfDocument(io.BytesIO(pdf.content))[0].get_textpage().get_text_range()
    assert extracted.split("\r\n") == expected


def test_metrics_count_requests_by_model(zh_server: RunningServer, english_page: bytes) -> None:
    def count(name: str) -> float:
        for line in requests.get(f"{zh_server.url}/metrics", timeout=5).text.splitlines():
            if line.startswith("ocr_model_requests_total{") and f'name="{name}"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before_zh, before_en = count("crnn-zh"), count("crnn-en")
    assert _ocr(zh_server, english_page, "?model=crnn-en").status_code == 200
    assert count("crnn-en") == before_en + 1 and count("crnn-zh") == before_zh
    metrics = requests.get(f"{zh_server.url}/metrics", timeout=5).text
    assert 'ocr_model_info{name="crnn-zh",version="0.0.0-test"} 1.0' in metrics
    assert 'ocr_model_info{name="crnn-en",version="1.2.0"} 1.0' in metrics
