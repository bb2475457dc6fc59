"""Text accuracy: the CER definitions every report in the project uses (evaluation, benchmarks, tests).

Torch-free and Flask-free, so the training evaluation, the benchmarks and the tests all score
with exactly the same code.  Corpus CER is Σ edit distance / Σ reference length (short items do
not dominate).  The "normalised" variant folds case and collapses whitespace runs: SROIE's truth is
upper-case and idiosyncratically spaced (``11 : 30AM``), so raw CER there mostly measures that.
Levenshtein distance comes from ``rapidfuzz`` (C++) when installed, else a pure-Python fallback
with identical results.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WS = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def collapse_whitespace(text: str) -> str:
    """Every whitespace run one space, trimmed; case kept (the case-sensitive page figure)."""
    return _WS.sub(" ", text).strip()


def normalize_text(text: str) -> str:
    """Case folded and every whitespace run one space, trimmed."""
    return collapse_whitespace(text).casefold()


def alnum_fold(text: str) -> str:
    """Case folded, letters and digits only: the scene-text word benchmarks' protocol.

    IIIT 5K-Word's truth holds only ``[0-9A-Za-z]`` (``$10.25`` is labelled ``1025``, a URL loses its
    dots), so on it a reader that writes the punctuation it sees is charged for reading well; the
    published comparisons (and ours, next to the plain case-folded figure) score on this fold."""
    return _NOT_ALNUM.sub("", text.casefold())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with unit costs."""
    try:
        from rapidfuzz.distance import Levenshtein
    except ImportError:  # pragma: no cover - exercised only without rapidfuzz
        return _edit_distance_py(a, b)
    return int(Levenshtein.distance(a, b))


def _edit_distance_py(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(pairs: Iterable[tuple[str, str]], normalise: bool = False, alnum: bool = False) -> float:
    """Corpus CER over ``(prediction, reference)`` pairs (``alnum``: on :func:`alnum_fold` of both)."""
    edits = chars = 0
    for pred, ref in pairs:
        if alnum:
            pred, ref = alnum_fold(pred), alnum_fold(ref)
        elif normalise:
            pred, ref = normalize_text(pred), normalize_text(ref)
        edits += edit_distance(pred, ref)
        chars += len(ref)
    return edits / max(1, chars)


def line_accuracy(pairs: Iterable[tuple[str, str]], normalise: bool = False) -> float:
    """Share of pairs read exactly (after normalisation when ``normalise``)."""
    pairs = list(pairs)
    same = sum(1 for p, r in pairs if (normalize_text(p) == normalize_text(r) if normalise else p == r))
    return same / max(1, len(pairs))
