"""PDFs through a real gunicorn with the shipped model: every format round-trips, hostile files are
answered with 4xx quickly, and the worker keeps serving afterwards."""

from __future__ import annotations

import time

import pdf_samples
import pytest
import requests
from server_support import RunningServer

pytestmark = pytest.mark.slow

LINES = [["INVOICE NUMBER 4471", "TOTAL AMOUNT 99.50"], ["SECOND PAGE", "THANK YOU"]]


def _post(server: RunningServer, data: bytes, **params: str) -> requests.Response:
    return requests.post(
        f"{server.url}/api/v1/ocr",
        params=params,
        data=data,
        headers={"Content-Type": "application/pdf"},
        timeout=120,
    )


def test_pdf_in_searchable_pdf_out_reads_the_text_back(server: RunningServer) -> None:
    import pypdfium2 as pdfium

    source = pdf_samples.text_pdf(LINES, font_size=24)
    body = _post(server, source).json()
    assert [p["page"] for p in body["pages"]] == [1, 2]
    assert body["pages"][0]["text"].upper().split("\n")[0] == "INVOICE NUMBER 4471"
    response = _post(server, source, format="pdf")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    pdf = pdfium.PdfDocument(response.content)
    assert [pdf[i].get_size() for i in range(len(pdf))] == [(612.0, 792.0)] * 2  # the source's page size
    texts = [pdf[i].get_textpage().get_text_range().upper() for i in range(2)]
    assert "INVOICE NUMBER 4471" in texts[0] and "TOTAL AMOUNT 99.50" in texts[0]
    assert "SECOND PAGE" in texts[1]
    # the words lie where the source PDF drew them: compare each word's glyph boxes in both files
    ours, theirs = pdf[0].get_textpage(), pdfium.PdfDocument(source)[0].get_textpage()
    for word in ("INVOICE", "4471", "99.50"):
        (a_start, a_len), (b_start, b_len) = _find(ours, word), _find(theirs, word)
        a, b = _union(ours, a_start, a_len), _union(theirs, b_start, b_len)
        assert a[0] == pytest.approx(b[0], abs=6) and a[2] == pytest.approx(b[2], abs=0.15 * (b[2] - b[0]) + 4)
        assert a[1] < (b[1] + b[3]) / 2 < a[3]  # vertically overlapping the source glyphs


def _find(textpage, word: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    text = textpage.get_text_range()
    index = text.upper().index(word)
    return index, len(word)


def _union(textpage, start: int, length: int) -> tuple[float, float, float, float]:  # type: ignore[no-untyped-def]
    boxes = [textpage.get_charbox(i) for i in range(start, start + length)]
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (pdf_samples.flate_bomb_pdf, 422, "undecodable_document"),
        (pdf_samples.million_pages_pdf, 413, "too_many_pages"),
        (pdf_samples.encrypted_pdf, 422, "encrypted_document"),
        (pdf_samples.deep_nesting_pdf, 422, "undecodable_document"),
    ],
    ids=["flate-bomb", "million-pages", "encrypted", "deep-nesting"],
)
def test_hostile_pdfs_are_4xx_and_the_worker_survives(server: RunningServer, make, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    response = _post(server, make())
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert time.monotonic() - started < 30
    assert requests.get(f"{server.url}/ready", timeout=5).status_code == 200


def test_javascript_pdf_is_read_without_running_it(server: RunningServer) -> None:
    body = _post(server, pdf_samples.javascript_pdf()).json()
    assert "HELLO" in body["text"].upper()
