"""Character set: the mapping between CTC class indices and characters.

Index 0 is the CTC blank.  The charset travels with the weights as ``charset.txt`` (one character
per line, a line holding only ``<space>`` for the space) so a model can never be decoded with the
wrong alphabet.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from pathlib import Path

SPACE_TOKEN = "<space>"
# Printable ASCII plus the symbols receipts and documents commonly carry.
EXTRA_SYMBOLS = "€£¥°±×÷•“”‘’–—©®™§¢µ"
DEFAULT_CHARS = "".join(ch for ch in string.printable if ch not in "\t\n\r\x0b\x0c") + EXTRA_SYMBOLS

# Characters folded into charset members before encoding labels: typographic variants a user
# would not distinguish, and which would otherwise be dropped as unknown.
NORMALISE = str.maketrans({"\u00a0": " ", "\u2019": "’", "\u2212": "-", "\u2010": "-", "\u2011": "-"})


class Charset:
    """Bidirectional char <-> index map with index 0 reserved for the CTC blank."""

    blank = 0

    def __init__(self, chars: Sequence[str]) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError("charset has duplicate characters")
        if any(len(c) != 1 for c in chars):
            raise ValueError("every charset entry must be one character")
        self.chars: list[str] = list(chars)
        self._index = {c: i + 1 for i, c in enumerate(self.chars)}

    @classmethod
    def default(cls) -> Charset:
        return cls(list(DEFAULT_CHARS))

    @classmethod
    def from_file(cls, path: str | Path) -> Charset:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return cls([" " if line == SPACE_TOKEN else line for line in lines if line != ""])

    def to_file(self, path: str | Path) -> None:
        Path(path).write_text("\n".join(SPACE_TOKEN if c == " " else c for c in self.chars) + "\n", encoding="utf-8")

    @property
    def num_classes(self) -> int:
        """Output width of the network: every character plus the blank."""
        return len(self.chars) + 1

    def __contains__(self, ch: str) -> bool:
        return ch in self._index

    def index_of(self, ch: str) -> int | None:
        """The class index of ``ch`` (blank is 0), or ``None`` when the charset lacks it."""
        return self._index.get(ch)

    def normalise(self, text: str) -> str:
        """Fold variants, collapse whitespace, drop characters the model cannot emit."""
        text = "".join(c for c in text.translate(NORMALISE) if c in self._index or c.isspace())
        return " ".join(text.split())

    def encode(self, text: str) -> list[int]:
        """Label indices for ``text``; raises on a character outside the charset."""
        try:
            return [self._index[c] for c in text]
        except KeyError as err:
            raise ValueError(f"character {err.args[0]!r} is not in the charset") from None

    def decode(self, indices: Iterable[int]) -> str:
        """Characters for already-collapsed indices (blanks skipped)."""
        return "".join(self.chars[i - 1] for i in indices if i != self.blank)

    def case_pairs(self) -> list[tuple[int, int]]:
        """(upper, lower) index pairs, used to make the CTC loss case-blind for upper-case-only labels."""
        pairs = []
        for c in self.chars:
            if c.isupper() and c.lower() in self._index and c.lower() != c:
                pairs.append((self._index[c], self._index[c.lower()]))
        return pairs
