"""PDF rasterising and multi-page TIFF reading: sizes, limits, and hostile files refused or bounded."""

from __future__ import annotations

import time

import numpy as np
import pdf_samples as samples
import pytest
from server_support import text_page

from ocr_server.documents.pdf import RenderLimits, iter_pdf_pages
from ocr_server.documents.tiff import is_multipage_tiff, iter_tiff_pages
from ocr_server.errors import (
    DocumentTooSlow,
    EncryptedDocument,
    OcrError,
    TooManyPages,
    TooManyPixels,
    UndecodableDocument,
    UndecodableImage,
)

LIMITS = RenderLimits(dpi=200, max_pixels=40_000_000, max_pages=50, max_document_pixels=400_000_000)


def _render(data: bytes, limits: RenderLimits = LIMITS, budget: float = 30.0, **kw: object) -> list:
    return list(iter_pdf_pages(data, limits, gray=True, deadline=time.monotonic() + budget, **kw))  # type: ignore[arg-type]


def test_pages_render_at_the_configured_dpi_with_their_text_visible() -> None:
    pages = _render(samples.text_pdf([["HELLO WORLD"], ["SECOND PAGE"]]))
    assert [p.number for p in pages] == [1, 2]
    for page in pages:
        assert page.pixels.shape == (2200, 1700)  # 8.5 x 11 in at 200 dpi
        assert page.dpi == pytest.approx(200.0)
        assert (page.width_pt, page.height_pt) == (612.0, 792.0)
        assert page.pixels.min() < 64 and np.median(page.pixels) == 255  # dark text on white
    colour = list(iter_pdf_pages(samples.text_pdf([["A"]]), LIMITS, gray=False, deadline=time.monotonic() + 30))
    assert colour[0].pixels.shape == (2200, 1700, 3)


def test_dpi_is_lowered_so_a_page_stays_within_max_pixels() -> None:
    limits = RenderLimits(dpi=300, max_pixels=1_000_000, max_pages=50, max_document_pixels=400_000_000)
    (page,) = _render(samples.text_pdf([["HELLO"]]), limits)
    h, w = page.pixels.shape
    assert h * w <= 1_000_000 and page.dpi < 300
    assert w / h == pytest.approx(612 / 792, rel=0.01)


def test_text_layer_words_come_back_with_pixel_boxes() -> None:
    (page,) = _render(samples.text_pdf([["TOTAL 12.50"]], font_size=20), text_layer=True)
    words = [w for line in page.text_lines for w in line]
    assert [w.text for w in words] == ["TOTAL", "12.50"]
    x1, y1, x2, y2 = words[0].box
    assert x1 == pytest.approx(72 * 200 / 72, abs=6)  # the text starts 1 in from the left
    assert 0 < y1 < y2 < 300 and x2 > x1
    ink = page.pixels[int(y1) : int(y2), int(x1) : int(x2)]
    assert ink.min() < 64  # the box covers the rendered glyphs


@pytest.mark.parametrize(
    ("make", "error", "code"),
    [
        (samples.encrypted_pdf, EncryptedDocument, "encrypted_document"),
        (samples.not_a_pdf, UndecodableDocument, "undecodable_document"),
        (samples.million_pages_pdf, TooManyPages, "too_many_pages"),
        (lambda: samples.many_real_pages_pdf(51), TooManyPages, "too_many_pages"),
        (samples.deep_nesting_pdf, UndecodableDocument, "undecodable_document"),
        (samples.flate_bomb_pdf, UndecodableDocument, "undecodable_document"),
    ],
    ids=["encrypted", "garbage", "million-pages", "51-pages", "deep-nesting", "flate-bomb"],
)
def test_hostile_or_broken_pdfs_are_refused_quickly(make, error: type[OcrError], code: str) -> None:  # type: ignore[no-untyped-def]
    data = make()
    started = time.monotonic()
    with pytest.raises(error) as err:
        _render(data)
    assert err.value.code == code and 400 <= err.value.status < 500
    assert time.monotonic() - started < 20


def test_huge_and_sliver_page_boxes_are_bounded_by_max_pixels() -> None:
    for data in (samples.huge_page_pdf(), samples.sliver_page_pdf()):
        (page,) = _render(data)
        h, w = page.pixels.shape
        assert h * w <= LIMITS.max_pixels and max(h, w) <= 20_000


def test_total_document_pixels_are_limited_before_rendering() -> None:
    limits = RenderLimits(dpi=200, max_pixels=40_000_000, max_pages=50, max_document_pixels=10_000_000)
    with pytest.raises(TooManyPixels, match="limit per document is 10000000"):
        _render(samples.many_real_pages_pdf(3), limits)  # 3 x 3.74 M pixels


def test_control_characters_of_a_text_layer_are_dropped() -> None:
    (page,) = _render(samples.text_pdf([["AB\x01CD\x07E"]]), text_layer=True)
    assert [w.text for line in page.text_lines for w in line] == ["AB", "CD", "E"]  # XML-safe


def test_javascript_is_never_run_and_the_page_still_renders() -> None:
    (page,) = _render(samples.javascript_pdf(), text_layer=True)
    assert [w.text for line in page.text_lines for w in line] == ["HELLO"]


def test_an_image_bomb_inside_a_page_renders_bounded() -> None:
    (page,) = _render(samples.image_bomb_pdf())
    assert page.pixels.shape == (2200, 1700)


def test_a_page_that_renders_forever_is_stopped_at_the_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(DocumentTooSlow):
        _render(samples.slow_page_pdf(), budget=1.5)
    assert time.monotonic() - started < 8


def _children() -> set[int]:
    """PIDs whose parent is this process (from /proc; no psutil needed)."""
    import os
    from pathlib import Path

    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            pids.add(int(stat.parent.name))
    return pids


def test_the_renderer_process_is_gone_afterwards() -> None:
    before = _children()
    _render(samples.text_pdf([["A"]]))
    with pytest.raises(UndecodableDocument):
        _render(samples.flate_bomb_pdf())
    pages = iter_pdf_pages(samples.text_pdf([["A"], ["B"]]), LIMITS, gray=True, deadline=time.monotonic() + 30)
    next(pages)
    assert _children() - before  # the renderer is running while pages are read
    pages.close()  # the caller stops early (an error on page 1): the renderer is killed
    assert _children() <= before


# --------------------------------------------------------------------------- multi-page TIFF


def _tiff_pages(data: bytes, **limits: int) -> list:
    kw = {"max_pixels": 40_000_000, "max_pages": 50, "max_document_pixels": 400_000_000, **limits}
    return list(iter_tiff_pages(data, gray=True, **kw))


def test_every_tiff_frame_is_read_in_order() -> None:
    frames = [text_page(600, 400, lines=n) for n in (2, 3, 4)]
    data = samples.multipage_tiff(frames)
    assert is_multipage_tiff(data)
    pages = _tiff_pages(data)
    assert len(pages) == 3
    for (decoded, _dpi), frame in zip(pages, frames, strict=True):
        assert np.array_equal(decoded.pixels, frame)
    single = samples.multipage_tiff(frames[:1])
    assert not is_multipage_tiff(single)


def test_tiff_page_and_pixel_limits() -> None:
    data = samples.multipage_tiff([text_page(300, 200, lines=1)] * 4)
    with pytest.raises(TooManyPages):
        _tiff_pages(data, max_pages=3)
    with pytest.raises(TooManyPixels, match="limit per document"):
        _tiff_pages(data, max_document_pixels=200_000)
    with pytest.raises(TooManyPixels):
        _tiff_pages(data, max_pixels=50_000)


def test_truncated_tiff_frame_is_undecodable() -> None:
    data = samples.multipage_tiff([text_page(300, 200, lines=1)] * 2, compression="raw")
    with pytest.raises(UndecodableImage):
        _tiff_pages(data[: len(data) - 30_000])


def test_a_rotated_page_renders_upright_with_its_displayed_size() -> None:
    import io

    import pikepdf

    pdf = pikepdf.open(io.BytesIO(samples.text_pdf([["ROTATED"]])))
    pdf.pages[0].Rotate = 90
    out = io.BytesIO()
    pdf.save(out)
    (page,) = _render(out.getvalue(), text_layer=True)
    assert page.pixels.shape == (1700, 2200)  # landscape, as a viewer shows it
    assert (page.width_pt, page.height_pt) == (792.0, 612.0)
    assert page.text_lines == ()  # rotated text layers are not used: the page is OCRed
