"""The ``crnn-zh`` character set and how Chinese labels are folded into it.

Members, in this order (index 0 stays the CTC blank):

1. the English charset (printable ASCII and ``€£¥°±×÷•“”‘’–—©®™§¢µ``), so Latin, digits and ASCII
   punctuation read as they do in ``crnn-en``;
2. ``FULLWIDTH``: Chinese punctuation and symbols (，。、；：？！（）《》【】「」『』〔〕〈〉…·￥℃№‰ …);
3. the 6,763 hanzi of GB 2312 levels 1 and 2, in code order, *derived from the codec* (every
   double-byte code of rows 16-87 that decodes), not typed in.

Full-width Latin letters, digits and the other full-width ASCII forms (U+FF01-FF5E) are not members:
a label holding them is folded to ASCII (NFKC for that block only), so ``ＡＢ１２`` is learnt as
``AB12``.  Code points that mean the same sign are folded onto the member (GB 2312's middle dot
U+30FB and its dash U+2015 decode to code points fonts and users rarely use; see ``FOLD``).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from ocr_server.recognition.charset import DEFAULT_CHARS, Charset

CHARSET_FILE = Path(__file__).with_name("charset.txt")

# Chinese punctuation, brackets and symbols that documents and invoices carry.
FULLWIDTH = "，。、；：？！（）《》【】「」『』〔〕〈〉…·￥℃№‰※→←↑↓√☆★○●□■△▲◇◆〇々①②③④⑤⑥⑦⑧⑨⑩ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ"
# Full-width forms that stay full-width (members) instead of being folded to ASCII.
_KEEP_FULLWIDTH = frozenset(c for c in FULLWIDTH if 0xFF01 <= ord(c) <= 0xFF5E or c == "￥")
# Other spellings of members.
FOLD = str.maketrans(
    {
        "\u30fb": "·",  # katakana middle dot: GB 2312 A1A4 decodes to it
        "\u2027": "·",  # hyphenation point
        "\u2022": "•",
        "\u2015": "—",  # horizontal bar: GB 2312 A1AA decodes to it
        "\u2500": "—",
        "\u00a0": " ",
        "\u3000": " ",  # ideographic space
        "\u2212": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\uff5e": "~",
        "\u301c": "~",
        "\ufe30": "…",
        "\u22ef": "…",
    }
)


def gb2312_hanzi() -> list[str]:
    """The 6,763 hanzi of GB 2312: rows 16-55 (level 1, 3,755) and 56-87 (level 2, 3,008), decoded
    by Python's codec, so the list is exactly the standard's and in its order."""
    out = []
    for row in range(16, 88):
        for col in range(1, 95):
            try:
                out.append(bytes([0xA0 + row, 0xA0 + col]).decode("gb2312"))
            except UnicodeDecodeError:  # row 55 ends at column 89
                continue
    return out


def build_chars() -> list[str]:
    """The members in class order (without the blank)."""
    chars = list(DEFAULT_CHARS)
    seen = set(chars)
    for c in FULLWIDTH + "".join(gb2312_hanzi()):
        if c not in seen:
            chars.append(c)
            seen.add(c)
    return chars


@lru_cache(maxsize=1)
def zh_charset() -> Charset:
    """The charset file committed beside this module (what bundles ship), checked by the tests
    against ``build_chars``."""
    return Charset.from_file(CHARSET_FILE) if CHARSET_FILE.is_file() else Charset(build_chars())


def fold_label(text: str) -> str:
    """Fold a Chinese text into member spellings: full-width ASCII forms -> ASCII (except the
    full-width members), other spellings of a member -> the member.  Unknown characters stay (the
    caller filters them with ``Charset.normalise``)."""
    text = text.translate(FOLD)
    return "".join(
        unicodedata.normalize("NFKC", c) if 0xFF01 <= ord(c) <= 0xFF5E and c not in _KEEP_FULLWIDTH else c for c in text
    )


def write_charset_file(path: Path = CHARSET_FILE) -> None:
    Charset(build_chars()).to_file(path)


if __name__ == "__main__":
    write_charset_file()
    print(f"wrote {CHARSET_FILE}: {len(build_chars())} characters")
