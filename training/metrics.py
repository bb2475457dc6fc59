"""Character error rate variants used in every report (raw, case-insensitive whitespace-collapsed)."""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz.distance import Levenshtein


def collapse(text: str) -> str:
    """Lower-case, whitespace runs collapsed: how SROIE's upper-case, oddly spaced labels are scored."""
    return " ".join(text.lower().split())


def cer(pairs: Iterable[tuple[str, str]], normalise: bool = False) -> float:
    """Total edit distance / total reference length over (prediction, reference) pairs."""
    edits = chars = 0
    for pred, ref in pairs:
        if normalise:
            pred, ref = collapse(pred), collapse(ref)
        edits += Levenshtein.distance(pred, ref)
        chars += len(ref)
    return edits / max(1, chars)


def line_accuracy(pairs: Iterable[tuple[str, str]], normalise: bool = False) -> float:
    pairs = list(pairs)
    ok = sum(1 for p, r in pairs if (collapse(p) == collapse(r) if normalise else p == r))
    return ok / max(1, len(pairs))
