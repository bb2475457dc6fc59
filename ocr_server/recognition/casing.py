"""Words read in an irregular mix of cases (``dAYtOnA``, ``SUndaY``, ``CheN``, ``hOOd``) put back into
the consistent casing the network itself finds almost as likely.

Why: case is decided letter by letter, and for letters whose two cases differ mostly in size
(``a A``, ``o O``, ``y Y``, ``u U``, ``w W``) on a font with a tall x-height the network is
nearly undecided; best-path decoding then takes each letter's slightly likelier case on its own
and writes mixtures no document prints.  A word is written in lower case, Title case or capitals;
camel case (``iPhone``, ``McDonald``, ``eBay``) exists but is written on purpose and read with
confidence.

Rule: for each alphabetic run of two or more letters whose casing is none of lower, Title or
UPPER, the three are scored with the network's own probabilities of each letter's two cases (at
the frames where best-path decoding emitted it); the likeliest replaces the reading when the
letters it changes were close calls: on average the changed case had at least ``1 / MAX_RATIO``
of the chosen case's probability.  A confident ``iPhone`` (``P`` at 19 : 1 over ``p``) stays.
Only the letters' case changes, never a letter, a position or the line's length.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from .charset import Charset

MAX_RATIO = 4.0
"""The changed letters' case may have been at most this many times less likely, on average."""

_WORD = re.compile(r"[^\W\d_]{2,}")


def _regular(word: str) -> bool:
    return word.islower() or word.isupper() or (word[0].isupper() and word[1:].islower())


def _letter_odds(
    probs: np.ndarray, frames: Sequence[tuple[int, int, float]], text: str, charset: Charset, i: int
) -> tuple[float, float] | None:
    """``(p(as read), p(other case))`` of ``text[i]`` at its emission frames, or ``None``."""
    ch, other = text[i], text[i].swapcase()
    if other == ch or len(other) != 1:
        return None
    a, b = charset.index_of(ch), charset.index_of(other)
    if a is None or b is None:
        return None
    start, end, _ = frames[i]
    span = probs[start : end + 1]
    return float(span[:, a].max()), float(span[:, b].max())


def consistent_case(text: str, probs: np.ndarray, frames: Sequence[tuple[int, int, float]], charset: Charset) -> str:
    """``text`` with its irregularly cased words recased (see the module docstring); ``frames`` are
    :func:`~ocr_server.recognition.ctc.greedy_frames` of ``probs``, one per character of ``text``."""
    if len(frames) != len(text) or not text:
        return text
    out = list(text)
    for match in _WORD.finditer(text):
        word = match.group()
        if _regular(word):
            continue
        odds = [_letter_odds(probs, frames, text, charset, match.start() + k) for k in range(len(word))]
        if any(o is None for o in odds):
            continue
        best, best_cost, n_changed = None, math.inf, 0
        for candidate in (word.lower(), word[0].upper() + word[1:].lower(), word.upper()):
            changed = [o for c, w, o in zip(candidate, word, odds, strict=True) if c != w]
            # cost: how much likelier the read case was, in log odds, over the letters that change
            cost = sum(math.log(max(p, 1e-9) / max(q, 1e-9)) for p, q in changed)  # type: ignore[misc]
            if cost < best_cost:
                best, best_cost, n_changed = candidate, cost, len(changed)
        if best is not None and n_changed and best_cost / n_changed <= math.log(MAX_RATIO):
            out[match.start() : match.end()] = best
    return "".join(out)
