"""Chinese test material without a trained Chinese model: a cipher bundle and CJK page rendering.

**The cipher bundle.**  ``crnn-zh-0.0.0-test`` is the English network (``crnn-en-1.2.0``'s weights,
unchanged) with its ``charset.txt`` replaced by 115 CJK characters: class *k* of the network, which
means the *k*-th English character, decodes as the *k*-th Chinese one.  So whatever the English
model reads on a rendered English line comes back, through this bundle, as an exactly predictable
Chinese string; a test that gets ``encipher(english)`` from the API has proved that the charset,
decoding, words, JSON and every output format follow the bundle end to end, with real Chinese
characters, and no Chinese training needed.

**CJK pages.**  Lines rendered with Debian's CJK fonts (``fonts-noto-cjk``, ``fonts-wqy-zenhei``;
``requirements/apt.txt``) by Pillow, with their exact ink boxes, for the line-detector tests.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocr_server.recognition.charset import SPACE_TOKEN, Charset
from tests.needs import missing

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE_BUNDLE = REPO_ROOT / "models" / "crnn-en-1.2.0"
CIPHER_NAME, CIPHER_VERSION = "crnn-zh", "0.0.0-test"

# Punctuation maps onto its full-width Chinese counterpart, so enciphered text looks like Chinese
# (and exercises full-width punctuation in words and boxes); everything else onto common Han
# characters, in order.
PUNCTUATION = {".": "。", ",": "，", ":": "：", ";": "；", "!": "！", "?": "？", "(": "（", ")": "）", "%": "％"}
HAN = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可也你说年发票号码"
    "金额合计税价单位名称地址电话开户行账日期月元角整数量规格型销售方购买者省市区路街道村镇县"
    "乡楼室层栋座园厂店铺公司集团有限责任股份科技贸易服务"
)


def cipher_table(chars: list[str]) -> dict[str, str]:
    """English charset character → Chinese character: punctuation to its full-width form, the rest
    (the space included) to distinct Han characters in order; 115 distinct CJK characters."""
    pool = iter(dict.fromkeys(HAN))
    table = {c: PUNCTUATION[c] if c in PUNCTUATION else next(pool) for c in chars}
    assert len(set(table.values())) == len(chars), "the cipher must be one-to-one"
    return table


def encipher(text: str, table: dict[str, str]) -> str:
    """What the cipher bundle answers where the English model read ``text``."""
    return "".join(table[c] for c in text)


@dataclass(frozen=True)
class CipherModels:
    """A models folder holding the English bundle and its Chinese cipher twin."""

    models_dir: Path
    table: dict[str, str]

    def encipher(self, text: str) -> str:
        return encipher(text, self.table)


def make_cipher_models(dest: Path, source: Path = SOURCE_BUNDLE) -> CipherModels:
    """``dest/crnn-en-1.2.0`` (a copy) and ``dest/crnn-zh-0.0.0-test`` (the same weights, the cipher
    charset, ``language: zh-Hans``); skips (fails under CI) when the English bundle is absent."""
    if not (source / "model.json").is_file():
        missing(f"the English bundle {source} is not installed")
    dest.mkdir(parents=True, exist_ok=True)
    english = dest / source.name
    if not english.exists():
        shutil.copytree(source, english)
    chars = Charset.from_file(source / "charset.txt").chars
    table = cipher_table(chars)
    zh = dest / f"{CIPHER_NAME}-{CIPHER_VERSION}"
    if not zh.exists():
        zh.mkdir()
        (zh / "model.onnx").symlink_to(english / "model.onnx")
        meta = json.loads((source / "model.json").read_text(encoding="utf-8"))
        meta.update(name=CIPHER_NAME, version=CIPHER_VERSION, language="zh-Hans", onnx="model.onnx")
        meta.pop("onnx_sha256", None)
        (zh / "model.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        Charset([table[c] for c in chars]).to_file(zh / "charset.txt")
        assert SPACE_TOKEN not in (zh / "charset.txt").read_text(encoding="utf-8")
        # its golden set: the English images, the texts as this twin reads them (the reading gate)
        if "golden" in meta:
            golden_file = zh / meta["golden"]["file"]
            shutil.copytree((english / meta["golden"]["file"]).parent, golden_file.parent)
            rows = [json.loads(x) for x in golden_file.read_text(encoding="utf-8").splitlines()]
            rows = [{**r, "text": encipher(r["text"], table)} for r in rows]
            golden_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return CipherModels(dest, table)


# --------------------------------------------------------------------------- CJK rendering

CJK_FONTS = {
    "noto-sans": Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    "noto-serif": Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
    "wqy-zenhei": Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
}
LATIN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def font_path(key: str) -> Path:
    """A CJK font file; skips (fails under CI) when its package is not installed."""
    path = CJK_FONTS.get(key, LATIN_FONT if key == "latin" else Path(key))
    if not path.is_file():
        missing(f"font {path} is not installed: `make setup-apt` (fonts-noto-cjk, fonts-wqy-zenhei)")
    return path


@dataclass(frozen=True)
class RenderedPage:
    pixels: np.ndarray  # gray uint8
    boxes: list[tuple[int, int, int, int]]  # each line's ink box, exclusive ends
    texts: list[str]


def render_lines(
    texts: list[str],
    font: str = "noto-sans",
    *,
    size: int = 28,
    spacing: float = 0.0,
    line_gap: float = 0.9,
    width: int | None = None,
    margin: int = 40,
    min_height: int = 1100,
) -> RenderedPage:
    """Black text on white, one line per entry, left aligned; ``spacing`` adds that many font sizes
    between characters (letter-spaced headings and forms); ``line_gap`` is the white between lines in
    font sizes.  The page is at least ``min_height`` pixels tall and 850 wide (an A5 page at 150 dpi;
    the detector scales some of its limits with the page).  Returns each line's exact ink box."""
    from PIL import Image, ImageDraw, ImageFont

    face = ImageFont.truetype(str(font_path(font)), size)
    advance = [sum(face.getlength(c) for c in t) + spacing * size * max(0, len(t) - 1) for t in texts]
    w = width or max(850, int(max(advance) + 2 * margin))
    pitch = int(size * (1.0 + line_gap))
    h = max(min_height, int(2 * margin + pitch * len(texts)))
    img = Image.new("L", (w, h), 255)
    boxes = []
    for i, text in enumerate(texts):
        y = margin + i * pitch
        probe = Image.new("L", (w, h), 255)  # the line alone, for its exact ink box
        for target in (probe, img):
            x = float(margin)
            pen = ImageDraw.Draw(target)
            for ch in text:
                pen.text((x, y), ch, font=face, fill=0)
                x += face.getlength(ch) + spacing * size
        ink = np.asarray(probe) < 128
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        boxes.append((int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1))
    return RenderedPage(np.asarray(img).copy(), boxes, texts)
