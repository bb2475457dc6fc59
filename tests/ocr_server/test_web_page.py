"""The upload page in headless Chromium (Debian's /usr/bin/chromium driven by Playwright)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from server_support import RunningServer, SroiePage

from tests.needs import missing

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(os.environ.get("OCR_WEB_SCREENSHOT", "/tmp/ocr-web-page.png"))


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    try:
        from playwright import sync_api
    except ImportError:
        missing("playwright is not installed: `make setup` (the dev extra; never `playwright install`)")
    if not CHROMIUM.exists():
        missing(f"Debian chromium is not installed at {CHROMIUM}: `make setup-apt`")
    with sync_api.sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def test_upload_shows_lines_and_boxes(browser, server: RunningServer, sroie_page: SroiePage) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    external: list[str] = []
    page.on(
        "request",
        lambda req: (
            external.append(req.url) if req.url.startswith("http") and not req.url.startswith(server.url) else None
        ),
    )
    page.goto(server.url + "/")
    page.wait_for_selector("#status.ready", timeout=30_000)
    assert "crnn-en" in page.inner_text("#model")

    page.set_input_files("#file", str(sroie_page.path))
    page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    lines = page.locator("#lines li")
    boxes = page.locator("#boxes rect")
    assert lines.count() >= len(sroie_page.lines) // 2
    assert boxes.count() == lines.count()
    assert all("%" in t for t in lines.all_inner_texts())  # every line shows its confidence
    assert "total" in page.inner_text("#timings")
    # the boxes are drawn over the image: the first box lies inside the displayed image
    image = page.locator("#image").bounding_box()
    first = boxes.first.bounding_box()
    assert image and first and first["width"] > 0 and first["height"] > 0
    assert image["x"] <= first["x"] and first["x"] + first["width"] <= image["x"] + image["width"] + 1
    assert image["y"] <= first["y"] and first["y"] + first["height"] <= image["y"] + image["height"] + 1
    page.hover("#lines li >> nth=0")
    assert "hot" in (boxes.first.get_attribute("class") or "")
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENSHOT), full_page=False)
    assert not external, f"the page fetched outside the server: {external}"
    page.close()


def test_errors_are_shown_plainly(browser, server: RunningServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake = tmp_path / "notes.png"
    fake.write_text("this is a text file, not a picture\n", encoding="utf-8")
    page = browser.new_page()
    page.goto(server.url + "/")
    page.set_input_files("#file", str(fake))
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    message = page.inner_text("#error")
    assert "415" in message and "unsupported_media_type" in message
    assert page.locator("#result").is_hidden()
    page.close()


def test_pdf_upload_shows_each_page_and_downloads_a_searchable_pdf(
    browser, server: RunningServer, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import pdf_samples
    import pypdfium2 as pdfium

    source = tmp_path / "letter.pdf"
    source.write_bytes(
        pdf_samples.text_pdf(
            [["INVOICE NUMBER 4471", "TOTAL AMOUNT 99.50"], ["SECOND PAGE", "THANK YOU"]], font_size=24
        )
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url + "/")
    page.wait_for_selector("#status.ready", timeout=30_000)
    page.set_input_files("#file", str(source))
    page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    figures = page.locator("#pages figure.page")
    assert figures.count() == 2
    assert page.locator("#single").is_hidden()
    for k in range(2):
        figure = figures.nth(k)
        image = figure.locator("img").bounding_box()
        boxes = figure.locator("svg rect")
        assert boxes.count() == 2  # two text lines on each page
        first = boxes.first.bounding_box()
        assert image and first and image["width"] > 100
        assert image["x"] <= first["x"] and first["x"] + first["width"] <= image["x"] + image["width"] + 1
    assert "INVOICE" in page.inner_text("#lines").upper()
    assert page.locator("#lines li").count() == 4

    with page.expect_download(timeout=60_000) as info:
        page.click("#downloads button[data-format=pdf]")
    download = info.value
    assert download.suggested_filename == "letter.pdf"
    saved = tmp_path / "searchable.pdf"
    download.save_as(saved)
    pdf = pdfium.PdfDocument(saved.read_bytes())
    assert len(pdf) == 2
    text = pdf[0].get_textpage().get_text_range().upper()
    assert "INVOICE" in text and "99.50" in text

    with page.expect_download(timeout=60_000) as info:
        page.click("#downloads button[data-format=alto]")
    assert info.value.suggested_filename == "letter.alto.xml"
    page.screenshot(path=str(SCREENSHOT.with_name("ocr-web-page-pdf.png")), full_page=False)
    page.close()


# Per character of the line's text: its glyph drawn alone, in the list's own computed font, on a
# canvas (Chromium's canvas text takes the same font fallback as the page), as a string of 0/1 pixels,
# plus two private-use characters no font has (what a missing glyph looks like: tofu, or nothing).
GLYPH_PROBE = """(chars) => {
  const el = document.querySelector('#lines li .text');
  const style = getComputedStyle(el);
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 48;
  const ctx = canvas.getContext('2d');
  const draw = (ch) => {
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, 48, 48);
    ctx.fillStyle = '#000'; ctx.textBaseline = 'top';
    ctx.font = `32px ${style.fontFamily}`;
    ctx.fillText(ch, 4, 4);
    const d = ctx.getImageData(0, 0, 48, 48).data;
    let bits = '', ink = 0;
    for (let i = 0; i < d.length; i += 4) { const on = d[i] < 128 ? 1 : 0; ink += on; bits += on; }
    return {bits, ink};
  };
  return {lang: el.lang, glyphs: chars.map(draw), missing: ['\\uE000', '\\uE001'].map(draw)};
}"""


def test_chinese_lines_are_shown_with_real_glyphs(  # type: ignore[no-untyped-def]
    browser, zh_server: RunningServer, cipher_models, tmp_path: Path
) -> None:
    from cjk_support import render_lines
    from PIL import Image

    truth = ["INVOICE NO 4471", "TOTAL 12.50"]
    page_file = tmp_path / "english.png"
    Image.fromarray(render_lines(truth, "latin", size=34, line_gap=1.2, min_height=400).pixels).save(page_file)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(zh_server.url + "/")
    page.wait_for_selector("#status.ready", timeout=30_000)
    assert "crnn-zh" in page.inner_text("#model")
    assert page.locator("#model-choice option").count() == 2  # both loaded models can be picked

    page.set_input_files("#file", str(page_file))
    page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    expected = [cipher_models.encipher(t) for t in truth]
    assert page.locator("#lines li .text").all_inner_texts() == expected  # the DOM holds the Chinese text
    assert page.locator("#boxes rect").count() == len(expected)
    probe = page.evaluate(GLYPH_PROBE, sorted(set("".join(expected))))
    assert probe["lang"] == "zh-Hans"  # the model's language, so Han glyphs take Chinese forms
    glyphs = probe["glyphs"]
    # real glyphs: every character inked, and no two alike (missing glyphs draw the same box, or nothing)
    assert all(g["ink"] > 20 for g in glyphs)
    assert len({g["bits"] for g in glyphs}) == len(glyphs)
    assert all(g["bits"] != m["bits"] for g in glyphs for m in probe["missing"])
    page.screenshot(path=str(SCREENSHOT.with_name("ocr-web-page-zh.png")), full_page=False)

    # the English model, picked on the page, reads the same file as English
    page.select_option("#model-choice", "crnn-en:1.2.0")
    page.set_input_files("#file", [])
    page.set_input_files("#file", str(page_file))
    page.wait_for_function(
        "() => document.querySelector('#lines li .text') && "
        "document.querySelector('#lines li .text').textContent.startsWith('INVOICE')",
        timeout=60_000,
    )
    assert page.locator("#lines li .text").all_inner_texts() == truth
    page.close()


def test_the_glyph_probe_sees_tofu(browser, zh_server: RunningServer) -> None:  # type: ignore[no-untyped-def]
    """The check above can fail: with a font list that has no CJK face and a page that cannot fall
    back (characters no font has), the probe finds identical or empty glyphs."""
    page = browser.new_page()
    page.set_content('<ol id="lines"><li><span class="text" style="font-family: NoSuchFont">x</span></li></ol>')
    probe = page.evaluate(GLYPH_PROBE, ["\ue010", "\ue011", "\ue012"])
    bits = [g["bits"] for g in probe["glyphs"]]
    assert len(set(bits)) == 1 or all(g["ink"] == 0 for g in probe["glyphs"])


def test_a_model_that_fails_its_reading_check_is_shown_down(browser, tampered_server: RunningServer) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(tampered_server.url + "/")
    page.wait_for_selector("#status.down", timeout=30_000)
    assert page.text_content("#status") == "model failed its reading check"
    page.close()
