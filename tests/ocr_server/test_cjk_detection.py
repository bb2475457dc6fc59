"""Line detection on Chinese pages rendered with Debian's CJK fonts (no ascenders or descenders,
characters made of several strokes, full-width punctuation with an em of white beside it).

A line is found whole when exactly one detected box overlaps it and that box holds all of its ink
(the final 。 included) without reaching into the next line.  The detector is the one a model whose
``language`` is ``zh-Hans`` gets (:data:`~ocr_server.detection.tuning.CJK_TUNING`); English keeps
the Latin shape constants, held by ``test_detection.py`` and ``bench/detection_eval.py``.
"""

from __future__ import annotations

import pytest
from cjk_support import RenderedPage, render_lines

from ocr_server.config import OcrConfig
from ocr_server.detection import create_detector
from ocr_server.detection.tuning import CJK_TUNING, Tuning, tuning_for
from ocr_server.imaging.preprocess import preprocess

FONTS = ["noto-sans", "noto-serif", "wqy-zenhei"]
SIZES = [16, 24, 40]
# invoice-like lines: digits, Latin, ¥, full-width ：，。（）！, and 一二三 (characters of flat strokes only,
# which fall apart into dash-like bars)
INVOICE = [
    "发票号码：12345678，开票日期：2026年11月30日。",
    "购买方名称：北京市海淀区某某科技有限公司",
    "合计金额 ¥1,280.00（壹仟贰佰捌拾元整）",
    "第一联：发票联，第二联：抵扣联，第三联：记账联。",
    "地址：上海市浦东新区世纪大道100号，电话：021-12345678",
    "统一社会信用代码：91310000MA1FL2XQ3B",
    "谢谢惠顾！",
]
# letter-spaced lines (headings, forms): no word spaces inside, as Chinese has none; at 16 px the 会 of
# 会议纪要 is two flat pieces (marks), not a glyph, so it only joins its line as marks do
SPACED = [
    "发票号码：12345678",
    "购买方名称：北京市海淀区某某科技有限公司",
    "备注：三月二十一日",
    "谢谢惠顾",
    "会议纪要",
]


def _problems(page: RenderedPage, language: str | None = "zh-Hans") -> list[str]:
    cfg = OcrConfig()
    boxes = create_detector(cfg.detection, language).detect(preprocess(page.pixels, cfg.preprocessing).gray)
    out = []
    for text, (x1, y1, x2, y2) in zip(page.texts, page.boxes, strict=True):
        h = y2 - y1
        hits = [b for b in boxes if min(b[3], y2) - max(b[1], y1) > 0.5 * h]
        if len(hits) != 1:
            out.append(f"{text}: {len(hits)} boxes {hits}")
            continue
        bx1, by1, bx2, by2 = hits[0]
        if bx1 > x1 + 1 or by1 > y1 + 1 or bx2 < x2 - 1 or by2 < y2 - 1:
            out.append(f"{text}: box {hits[0]} leaves out ink of {(x1, y1, x2, y2)}")
        if by2 - by1 > 1.6 * h:
            out.append(f"{text}: box {hits[0]} reaches into another line")
    if len(boxes) != len(page.texts):
        out.append(f"{len(boxes)} boxes for {len(page.texts)} lines")
    return out


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("font", FONTS)
def test_chinese_invoice_lines_are_found_whole(font: str, size: int) -> None:
    assert _problems(render_lines(INVOICE, font, size=size)) == []


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("font", FONTS)
def test_letter_spaced_chinese_lines_are_not_split_between_characters(font: str, size: int) -> None:
    assert _problems(render_lines(SPACED, font, size=size, spacing=0.3)) == []


def test_tight_line_pitch_does_not_merge_lines() -> None:
    page = render_lines(INVOICE, "noto-sans", size=24, line_gap=0.35)
    assert _problems(page) == []


@pytest.mark.parametrize("spacing", [0.6, 0.8])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("font", FONTS)
def test_widely_letter_spaced_headings_and_labels_stay_one_line(font: str, size: int, spacing: float) -> None:
    assert _problems(render_lines(SPACED, font, size=size, spacing=spacing)) == []


def test_the_latin_settings_would_split_them() -> None:
    """Why the CJK shape constants exist: the English detector cuts these lines after the ：."""
    page = render_lines(SPACED, "noto-sans", size=24, spacing=0.6)
    assert any("2 boxes" in p for p in _problems(page, language=None))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("font", FONTS)
def test_a_large_full_width_comma_does_not_split_its_line(font: str, size: int) -> None:
    """At 40 px a ，is too tall to be a mark, sits below the band its neighbours link through and
    joined no row: the em of white after it split the line (with or without letter-spacing)."""
    for spacing in (0.0, 0.3, 0.6):
        assert _problems(render_lines(["发票号码：12345678，开票日期"], font, size=size, spacing=spacing)) == []


@pytest.mark.xfail(strict=True, reason="known limit: a full em between 40 px characters reads as a column gap")
def test_a_full_em_of_letter_spacing_is_a_known_limit() -> None:
    assert _problems(render_lines(SPACED, "noto-sans", size=40, spacing=1.0)) == []


@pytest.mark.parametrize(
    ("language", "cjk"),
    [("zh-Hans", True), ("zh", True), ("ja-JP", True), ("ko", True), ("en", False), ("", False), (None, False)],
)
def test_the_script_of_the_model_picks_the_shape_constants(language: str | None, cjk: bool) -> None:
    assert tuning_for(language) == (CJK_TUNING if cjk else Tuning())
    assert create_detector(OcrConfig().detection, language).tuning == tuning_for(language)  # type: ignore[attr-defined]
