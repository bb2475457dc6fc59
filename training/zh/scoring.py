"""How Chinese readings are scored: strict CER and width-normalised CER.

*Strict*: the reading against the label character for character (whitespace runs are single
spaces on both sides; a full-width ，is not a ``,``).

*Normalised* (``normalise``), what the issue's ≤ 3 % target is measured on:

1. Unicode NFKC: full-width Latin letters, digits and ASCII punctuation become half-width
   (，→, ；→; ：→: ？→? ！→! （→( ）→) ￥→¥ ～→~), ℃→°C, №→No, …→..., ①→1, Ⅳ→IV;
2. ``EXTRA_FOLD``, Chinese signs NFKC keeps, to their ASCII look-alike: 。→. 、→, “”→" ‘’→'
   《〈→< 》〉→> 【〔「『→[ 】〕」』→] ·・→. —―→- ;
3. case folded;
4. every whitespace removed (spacing between hanzi is layout, not text).

So a model that reads a full-width comma as a half-width one, or that puts a space between two
hanzi, is not penalised in the normalised figure, and is in the strict one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from ocr_server.recognition.scoring import cer

EXTRA_FOLD = str.maketrans(
    {
        "。": ".",
        "、": ",",
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "《": "<",
        "〈": "<",
        "》": ">",
        "〉": ">",
        "【": "[",
        "〔": "[",
        "「": "[",
        "『": "[",
        "】": "]",
        "〕": "]",
        "」": "]",
        "』": "]",
        "·": ".",
        "・": ".",
        "—": "-",
        "―": "-",
    }
)


def normalise(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).translate(EXTRA_FOLD).casefold().split())


def cer_strict(pairs: Iterable[tuple[str, str]]) -> float:
    return cer(pairs)


def cer_normalised(pairs: Iterable[tuple[str, str]]) -> float:
    return cer((normalise(p), normalise(r)) for p, r in pairs)
