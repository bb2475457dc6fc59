"""Real Chinese text for the zh profile, and the held-out slice the training never sees.

Sources (both from the registries this project reaches):

* ``jieba`` (PyPI): its ``dict.txt``, ~350k words with corpus frequencies and part of speech;
  phrases are sampled by frequency (tempered, so the long tail appears too).
* ``fortunes-zh`` (Debian): 5,673 fortunes in UTF-8, already simplified Chinese: the Debian code of
  conduct and project texts, 300 Tang poems, 100 Song lyrics.  ANSI colour escapes are removed and
  the hard-wrapped paragraphs are joined (Chinese wraps inside words); every character outside
  the charset (a few traditional or rare ones) is dropped with its line.

Held out **by fortune** (a SHA-1 of the fortune's text): bucket 0 of 20 is the evaluation slice
(``make evaluate``, ``bench/``), bucket 1 the validation slice (``best.pt`` choice), the other 18
train.  Splitting whole fortunes, not lines, keeps a poem's other lines out of training too.
"""

from __future__ import annotations

import hashlib
import random
import re
from bisect import bisect
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

from .charset import fold_label, zh_charset

FORTUNE_FILES = tuple(Path("/usr/share/games/fortunes") / n for n in ("chinese", "tang300", "song100"))
SPLIT_BUCKETS = 20
SPLIT_OF_BUCKET = {0: "test", 1: "val"}  # every other bucket: "train"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CLAUSE_END = re.compile(r"(?<=[，。！？；：、,.!?;:])")
MAX_LINE_CHARS = 22


def split_of(text: str) -> str:
    """``"train"``, ``"val"`` or ``"test"`` for a source record, stable across runs and machines."""
    bucket = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % SPLIT_BUCKETS
    return SPLIT_OF_BUCKET.get(bucket, "train")


def _clean(text: str) -> str:
    """One fortune as running text, one paragraph a line: escapes removed, wrapped lines joined
    (a space kept only between two Latin characters), whitespace collapsed."""
    paragraphs = []
    for para in re.split(r"\n\s*\n", _ANSI.sub("", text)):
        out = ""
        for p in (p.strip() for p in para.splitlines()):
            if not p:
                continue
            if out and out[-1].isascii() and out[-1].isalnum() and p[0].isascii() and p[0].isalnum():
                out += " "
            out += p
        out = fold_label(" ".join(out.split()))
        if out:
            paragraphs.append(out)
    return "\n".join(paragraphs)


def pack_lines(text: str, max_chars: int = MAX_LINE_CHARS) -> list[str]:
    """Cut running text into document-like lines: whole clauses packed up to ``max_chars``; a
    clause longer than that is cut into ``max_chars`` pieces."""
    lines: list[str] = []
    for para in text.split("\n"):
        lines.extend(_pack_paragraph(para, max_chars))
    return lines


def _pack_paragraph(text: str, max_chars: int) -> list[str]:
    lines, cur = [], ""
    for clause in (c.strip() for c in _CLAUSE_END.split(text)):
        if not clause:
            continue
        while len(clause) > max_chars:
            if cur:
                lines.append(cur)
                cur = ""
            lines.append(clause[:max_chars])
            clause = clause[max_chars:]
        if len(cur) + len(clause) > max_chars and cur:
            lines.append(cur)
            cur = ""
        cur += clause
    if cur:
        lines.append(cur)
    return lines


def _representable(line: str) -> bool:
    cs = zh_charset()
    return all(c in cs or c == " " for c in line) and sum(not c.isascii() for c in line) >= 2


@lru_cache(maxsize=1)
def fortunes() -> tuple[str, ...]:
    """Every fortune as cleaned running text (empty when ``fortunes-zh`` is not installed)."""
    out = []
    for path in FORTUNE_FILES:
        if path.is_file():
            for record in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
                text = _clean(record)
                if text:
                    out.append(text)
    return tuple(out)


@lru_cache(maxsize=1)
def _lines_by_split() -> dict[str, tuple[str, ...]]:
    raw: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for text in fortunes():
        raw[split_of(text)].extend(line for line in pack_lines(text) if len(line) >= 4 and _representable(line))
    # A line that recurs in other fortunes (an attribution "-- 杜甫《春夜喜雨》", a quoted verse) stays
    # with the held-out slice only: test wins over val, both over train.
    test = set(raw["test"])
    val = set(raw["val"]) - test
    return {
        "test": tuple(raw["test"]),
        "val": tuple(x for x in raw["val"] if x in val),
        "train": tuple(x for x in raw["train"] if x not in test and x not in val),
    }


def sentence_lines(split: str) -> tuple[str, ...]:
    """Lines of the fortunes in ``split`` ("train", "val" or "test"), every character in the charset;
    no line of one split occurs in another."""
    return _lines_by_split()[split]


class WordSampler:
    """jieba's dictionary, sampled by frequency ** ``temper`` (0.5: common words dominate, as in
    text, but a word 10,000 times rarer still comes up 1 in 100 times as often)."""

    def __init__(self, temper: float = 0.5) -> None:
        words, weights = jieba_words()
        self.words = words
        self.cum = list(accumulate(w**temper for w in weights))

    def __call__(self, rng: random.Random) -> str:
        return self.words[bisect(self.cum, rng.random() * self.cum[-1])] if self.words else ""


@lru_cache(maxsize=1)
def jieba_words() -> tuple[tuple[str, ...], tuple[float, ...]]:
    """``(words, frequencies)`` of jieba's dict.txt whose characters are all in the charset."""
    try:
        import jieba
    except ImportError:
        return (), ()
    path = Path(jieba.__file__).with_name("dict.txt")
    cs = zh_charset()
    words, freqs = [], []
    for row in path.read_text(encoding="utf-8").splitlines():
        parts = row.split()
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        word = fold_label(parts[0])
        if all(c in cs for c in word):
            words.append(word)
            freqs.append(float(parts[1]))
    return tuple(words), tuple(freqs)
