"""The Chinese profile's pieces: charset, corpus split, held-out faces, renderer, generators, scoring.

Torch-free (the training smoke and the export are in ``test_zh_train.py``).  The fonts and
``fortunes-zh`` are Debian packages (requirements/apt.txt): without them these tests skip locally
and fail under CI=true.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from ocr_server.recognition.charset import DEFAULT_CHARS, Charset
from tests.needs import missing
from training.zh import corpus, generators
from training.zh.charset import CHARSET_FILE, FULLWIDTH, build_chars, fold_label, gb2312_hanzi, zh_charset
from training.zh.fonts import HELD_OUT_FAMILIES, discover_faces, face_coverage, split_faces
from training.zh.render import render_zh_line
from training.zh.scoring import cer_normalised, cer_strict, normalise


@pytest.fixture(scope="module")
def faces():
    found = discover_faces()
    if not found:
        missing("no Chinese fonts installed: `make setup-apt` (requirements/apt.txt, fonts-noto-cjk ...)")
    return split_faces(found)


@pytest.fixture(scope="module")
def sentences() -> dict[str, tuple[str, ...]]:
    if not corpus.fortunes():
        missing("fortunes-zh is not installed: `make setup-apt` (requirements/apt.txt)")
    return {s: corpus.sentence_lines(s) for s in ("train", "val", "test")}


# --- charset ---


def test_charset_holds_every_gb2312_hanzi_once() -> None:
    hanzi = gb2312_hanzi()
    assert len(hanzi) == 6763 == len(set(hanzi))
    assert hanzi[0] == "啊" and hanzi[3754] == "座" and hanzi[3755] == "亍" and hanzi[-1] == "齄"
    assert all(0x4E00 <= ord(c) <= 0x9FFF for c in hanzi)
    chars = zh_charset().chars
    assert len(chars) == len(set(chars))
    assert set(hanzi) <= set(chars)
    assert set(DEFAULT_CHARS) <= set(chars)  # ASCII, digits, Latin and the English symbols
    assert set("，。、；：？！“”‘’（）《》【】…—·¥￥%°×÷℃№") <= set(chars)


def test_committed_charset_file_is_the_derived_one() -> None:
    """charset.txt (what bundles ship) is exactly what the code derives; regenerate with
    `python -m training.zh.charset` when FULLWIDTH changes."""
    assert Charset.from_file(CHARSET_FILE).chars == build_chars()
    assert len(build_chars()) == len(DEFAULT_CHARS) + len(set(FULLWIDTH) - set(DEFAULT_CHARS)) + 6763


def test_labels_fold_fullwidth_ascii_but_keep_chinese_punctuation() -> None:
    assert fold_label("ＡＢ１２３ｘ") == "AB123x"
    assert fold_label("价税合计（大写），￥１０") == "价税合计（大写），￥10"
    assert fold_label("中・文―") == "中·文—"
    cs = zh_charset()
    assert all(c in cs for c in fold_label("发票代码：０１２３，金额（元）"))


# --- text ---


def test_held_out_sentences_never_reach_training(sentences: dict[str, tuple[str, ...]]) -> None:
    train, val, test = (set(sentences[s]) for s in ("train", "val", "test"))
    assert len(test) > 500 and len(val) > 300 and len(train) > 10 * len(test)
    assert not train & test and not train & val and not val & test
    # the split is by whole fortune: every held-out line comes from a held-out fortune
    held = {ln for text in corpus.fortunes() if corpus.split_of(text) == "test" for ln in corpus.pack_lines(text)}
    assert test <= held


def test_sentence_lines_are_clean_and_representable(sentences: dict[str, tuple[str, ...]]) -> None:
    cs = zh_charset()
    for line in sentences["test"]:
        assert "\x1b" not in line and "[3" not in line  # ANSI colour escapes removed
        assert 4 <= len(line) <= corpus.MAX_LINE_CHARS
        assert all(c in cs or c == " " for c in line), line


def test_pack_lines_keeps_every_character() -> None:
    text = "要有礼貌。在 Debian 这种规模的项目中，很难避免遇到与你意见不和，或者难以合作的人。请接受这一事实！"
    lines = corpus.pack_lines(text, 12)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(len(x) <= 12 for x in lines)


def test_generators_are_seeded_and_in_charset() -> None:
    text = generators.ZhText("train")
    if not text.words.words:
        missing("jieba is not installed (the train extra)")
    a = [text(random.Random(5)) for _ in range(20)]
    assert a == [text(random.Random(5)) for _ in range(20)]
    cs = zh_charset()
    rng = random.Random(0)
    for _ in range(500):
        line = text(rng)
        assert line and len(line) <= 28
        assert all(c in cs or c == " " for c in line), line


def test_invoice_generators_print_real_formats() -> None:
    rng = random.Random(1)
    for _ in range(50):
        tid = generators.tax_id(rng)
        assert len(tid) == 18 and re.fullmatch(r"[0-9A-HJ-NP-RTUWXY]{18}", tid)
        assert re.fullmatch(r"-?[¥￥]? ?\d{1,3}(,?\d{3})*\.\d\d( ?元)?", generators.amount(rng))
        assert re.fullmatch(
            r"[零壹贰叁肆伍陆柒捌玖拾佰仟万]+圆([零壹贰叁肆伍陆柒捌玖]角?)*([壹贰叁肆伍陆柒捌玖]分)?整?",
            generators.upper_amount(rng),
        )
    dates = [generators.cn_date(rng) for _ in range(200)]
    assert any(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", d) for d in dates)


def test_uniform_hanzi_reach_level_two() -> None:
    rng = random.Random(2)
    level2 = set(gb2312_hanzi()[3755:])
    seen = "".join(generators.uniform_hanzi(rng) for _ in range(200))
    assert sum(c in level2 for c in seen) > 0.3 * len(seen)


# --- fonts and rendering ---


def test_held_out_families_never_train(faces) -> None:
    train, held = faces
    assert {f.family for f in held} == HELD_OUT_FAMILIES
    assert not {f.family for f in train} & HELD_OUT_FAMILIES
    assert not {(f.path, f.index) for f in train} & {(f.path, f.index) for f in held}
    assert len({f.family for f in train}) >= 5
    # simplified-Chinese faces only: no JP/KR/TC/HK faces of the Noto collections
    assert all(re.search(r"\bSC\b|CN|GB|Zen Hei", f.name) for f in train), [f.name for f in train]


def test_every_face_covers_the_hanzi(faces) -> None:
    hanzi = set(gb2312_hanzi())
    for face in faces[0] + faces[1]:
        assert len(hanzi & face_coverage(face.path, face.index)) >= 0.98 * len(hanzi), face.name


@pytest.mark.parametrize("text", ["发票代码：0123456789", "一二三", "合计 ¥1,234.56", "纳税人识别号91310000MA1K4XXXXX"])
def test_renderer_draws_the_whole_label(faces, text: str) -> None:
    """Ink spans the line; the width follows the number of characters (CJK glyphs are square);
    a line of low signs keeps the em-box height instead of being stretched."""
    face = faces[0][0]
    for seed in range(5):
        img = render_zh_line(text, face, random.Random(seed), size=36)
        assert img.dtype == np.uint8 and img.ndim == 2
        assert 30 <= img.shape[0] <= 36 * 2, img.shape
        ink = img < (int(img.max()) + int(img.min())) / 2
        assert ink.any()
        cols = np.flatnonzero(ink.any(0))
        ink_width = cols[-1] - cols[0] + 1
        assert ink_width >= 0.45 * 36 * len(text) * 0.6  # half-width Latin/digits count ~half
        assert ink_width <= 36 * len(text) * 2.2  # letter-spacing up to one em


def test_runs_cut_latin_from_cjk_and_keep_every_character() -> None:
    from training.zh.render import LATIN_RUN_CHARS, runs

    text = "参见systemd.target(5). 和 CPU 100%，完"
    got = runs(text, LATIN_RUN_CHARS)
    assert "".join(r for r, _ in got) == text
    assert got == [
        ("参见", False),
        ("systemd.target(5). ", True),
        ("和 ", False),
        ("CPU 100%", True),
        ("，完", False),
    ]
    assert runs("全是中文", LATIN_RUN_CHARS) == [("全是中文", False)]


def test_latin_font_draws_the_ascii_runs(faces) -> None:
    """With a western font the ASCII runs are drawn in it: the line's ink differs from the CJK face's
    own Latin, still spans the whole label, and a missing font changes nothing (seeded as before)."""
    from training.fonts import split_fonts

    latin_fonts, _ = split_fonts()
    if not latin_fonts:
        missing("no Latin fonts installed: `make setup-apt`")
    face = faces[0][0]
    text = "见 systemd.target(5) 的说明"
    plain = render_zh_line(text, face, random.Random(4), size=36)
    assert np.array_equal(plain, render_zh_line(text, face, random.Random(4), size=36, latin=None))
    differs = 0
    for font in latin_fonts[:6]:
        img = render_zh_line(text, face, random.Random(4), size=36, latin=font.path)
        ink = img < (int(img.max()) + int(img.min())) / 2
        cols = np.flatnonzero(ink.any(0))
        assert cols[-1] - cols[0] + 1 >= 0.45 * 36 * len(text) * 0.6
        differs += img.shape != plain.shape or not np.array_equal(img, plain)
    assert differs == min(6, len(latin_fonts))


def test_stream_picks_a_latin_font_only_for_lines_with_ascii(faces) -> None:
    from pathlib import Path

    from training.zh.stream import ZhLineStream, ZhMix

    fonts = [Path("/a.ttf"), Path("/b.ttf")]
    always = ZhLineStream(zh_charset(), faces[0], ZhMix(latin_font_share=1.0), 1, fonts)
    never = ZhLineStream(zh_charset(), faces[0], ZhMix(latin_font_share=0.0), 1, fonts)
    rng = random.Random(0)
    assert always.latin_font("增值税专用发票", rng) is None
    assert always.latin_font("型号 iPhone 15", rng) in fonts
    assert never.latin_font("型号 iPhone 15", rng) is None


def test_rule_lines_hold_runs_of_one_character() -> None:
    """Separator rows (a repeated dash or dot, 3-26 long) are among the generated lines and are all
    representable."""
    text = generators.ZhText("train")
    if not text.words.words:
        missing("jieba is not installed (the train extra)")
    cs = zh_charset()
    rng = random.Random(1)
    lines = [generators.rule_line(rng, text.words) for _ in range(300)]
    rows = [ln for ln in lines if len(set(ln)) == 1]
    assert len(rows) > 100 and all(3 <= len(r) <= 26 for r in rows)
    assert any(set(r) == {"—"} for r in rows)
    assert all(c in cs or c == " " for ln in lines for c in cs.normalise(fold_label(ln)))


def test_renderer_is_seeded(faces) -> None:
    face = faces[0][0]
    a = render_zh_line("增值税专用发票", face, random.Random(3))
    assert np.array_equal(a, render_zh_line("增值税专用发票", face, random.Random(3)))


def test_low_signs_keep_their_place(faces) -> None:
    """ "一" (a single low stroke) in the em box: ink occupies a thin middle band, not the whole height."""
    face = next(f for f in faces[0] if f.family == "noto-sans-sc")
    rng = random.Random(0)
    for _ in range(20):
        img = render_zh_line("一一一", face, rng, size=40)
        rows = np.flatnonzero((img < 128).any(1))
        if img.shape[0] > 30:  # em-box crop (a quarter are tight to the ink by design)
            assert rows[-1] - rows[0] + 1 < 0.3 * img.shape[0]


def test_screen_style_is_drawn_at_ui_size(faces) -> None:
    """Screenshot lines are rendered small from the start (11-18 px a character), not shrunk, and
    keep their full label."""
    from training.zh.stream import SCREEN_SIZES, ZhLineStream

    rng, nrng = random.Random(1), np.random.default_rng(1)
    for face in faces[0][:4]:
        img, text = ZhLineStream.screen_sample("公司名称：上海某某科技有限公司", face, rng, nrng)
        assert text == "公司名称：上海某某科技有限公司"
        assert img.dtype == np.uint8 and img.ndim == 2
        assert img.shape[0] <= 2 * SCREEN_SIZES[1] and img.shape[1] >= 10 * SCREEN_SIZES[0]


def test_scene_style_labels_the_piece_it_draws(faces) -> None:
    """A sign is a 2-12 character piece of the line; its label is exactly that piece (no spaces),
    and the crop holds ink of that many characters, outlines never filling the hanzi in."""
    from training.zh.stream import SCENE_CHARS, ZhLineStream

    line = "营业执照注册号码 Tel 021"
    rng, nrng = random.Random(2), np.random.default_rng(2)
    for i in range(12):
        face = faces[0][i % len(faces[0])]
        img, piece = ZhLineStream.scene_sample(line, face, rng, nrng)
        assert piece and piece in line.replace(" ", "")
        assert SCENE_CHARS[0] <= len(piece) <= SCENE_CHARS[1] or len(piece) == len(line.replace(" ", ""))
        assert img.dtype == np.uint8 and img.ndim == 2 and min(img.shape) >= 8


def test_scene_eval_set_is_held_out_and_seeded(faces, sentences) -> None:
    """The photo-like evaluation pieces come from held-out sentences only and are deterministic."""
    from training.zh.evalset import scene_lines

    a, b = scene_lines(20), scene_lines(20)
    assert [t for _, t in a] == [t for _, t in b]
    assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(a, b, strict=True))
    held = "".join(sentences["test"])
    assert all(t.replace(" ", "") and t.replace(" ", "")[:2] in held.replace(" ", "") for _, t in a)


# --- scoring ---


def test_normalised_cer_folds_width_and_spacing_only() -> None:
    assert normalise("价税合计（大写）：壹仟圆整。 ＡＢ") == "价税合计(大写):壹仟圆整.ab"
    assert cer_strict([("你好,世界", "你好，世界")]) == pytest.approx(0.2)
    assert cer_normalised([("你好,世界", "你好，世界")]) == 0.0
    assert cer_normalised([("你 好", "你好")]) == 0.0
    assert cer_normalised([("你坏", "你好")]) == pytest.approx(0.5)


def test_breakdown_splits_latin_chinese_and_separator_rows() -> None:
    from training.zh.evaluation import breakdown, line_kind

    assert line_kind("——————") == "separator rows"
    assert line_kind("参见 systemd.target") == "with Latin"
    assert line_kind("合计¥1,234.56") == "Chinese only"
    pairs = [("", "——————"), ("参见 systemd.toroet", "参见 systemd.target"), ("发票", "发票")]
    got = breakdown(pairs)
    assert got["separator rows"] == {"lines": 1, "cer_norm": 1.0}
    assert got["Chinese only"]["cer_norm"] == 0.0
    assert 0 < got["with Latin"]["cer_norm"] < 0.2
