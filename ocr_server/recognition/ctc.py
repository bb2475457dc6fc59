"""CTC decoding in plain numpy: greedy (best path) and prefix beam search.

Pure functions of a ``(T, C)`` probability matrix, so they are unit-testable with hand-made
inputs and shared by the server and the evaluation scripts.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from .charset import Charset


def greedy_decode(probs: np.ndarray, charset: Charset) -> tuple[str, float]:
    """Best-path decoding.

    Confidence is the mean, over emitted characters, of the highest frame probability of each
    character; an empty result reports the mean blank probability (how sure the model is that
    nothing is written).
    """
    if probs.ndim != 2 or probs.shape[0] == 0:
        return "", 0.0
    best = probs.argmax(axis=1)
    best_p = probs[np.arange(len(best)), best]
    out: list[int] = []
    confs: list[float] = []
    prev = -1
    for idx, p in zip(best.tolist(), best_p.tolist(), strict=True):
        if idx != prev and idx != charset.blank:
            out.append(idx)
            confs.append(p)
        elif idx == prev and idx != charset.blank and confs:
            confs[-1] = max(confs[-1], p)
        prev = idx
    if not out:
        return "", float(probs[:, charset.blank].mean())
    return charset.decode(out), float(np.mean(confs))


def greedy_frames(probs: np.ndarray, charset: Charset) -> tuple[tuple[int, int, float], ...]:
    """Where best-path decoding emits each character: ``(first frame, last frame, confidence)``.

    One entry per character of :func:`greedy_decode`'s text, in order (the same emission rule, so
    the two always agree); a character's frames are the run of frames whose best class is it.
    Multiplying frames by the network's width downsampling gives pixel columns of the line crop,
    which is how word boxes are found without a second model.
    """
    if probs.ndim != 2 or probs.shape[0] == 0:
        return ()
    best = probs.argmax(axis=1).tolist()
    best_p = probs[np.arange(len(best)), best].tolist()
    spans: list[list[float]] = []
    prev = -1
    for t, (idx, p) in enumerate(zip(best, best_p, strict=True)):
        if idx != prev and idx != charset.blank:
            spans.append([t, t, p])
        elif idx == prev and idx != charset.blank and spans:
            spans[-1][1] = t
            spans[-1][2] = max(spans[-1][2], p)
        prev = idx
    return tuple((int(a), int(b), float(c)) for a, b, c in spans)


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def beam_decode(probs: np.ndarray, charset: Charset, beam_width: int = 5, prune: float = 1e-4) -> tuple[str, float]:
    """CTC prefix beam search (no language model).

    Returns the most probable label sequence summed over all its alignments; confidence is that
    probability normalised per frame (geometric mean), comparable across line lengths.
    Frames' candidates are pruned to classes above ``prune`` to keep it fast on long lines.
    """
    if probs.ndim != 2 or probs.shape[0] == 0:
        return "", 0.0
    blank = charset.blank
    logp = np.log(np.clip(probs, 1e-12, 1.0))
    # beams: prefix -> (log P ending in blank, log P ending in non-blank)
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    for t in range(probs.shape[0]):
        candidates = np.nonzero(probs[t] >= prune)[0].tolist()
        if blank not in candidates:
            candidates.append(blank)
        nxt: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (pb, pnb) in beams.items():
            total = _logsumexp(pb, pnb)
            for c in candidates:
                lp = float(logp[t, c])
                if c == blank:
                    entry = nxt[prefix]
                    entry[0] = _logsumexp(entry[0], total + lp)
                    continue
                last = prefix[-1] if prefix else None
                new_prefix = (*prefix, c)
                entry = nxt[new_prefix]
                if c == last:
                    # repeated char needs a blank in between; otherwise it extends the same char
                    entry[1] = _logsumexp(entry[1], pb + lp)
                    same = nxt[prefix]
                    same[1] = _logsumexp(same[1], pnb + lp)
                else:
                    entry[1] = _logsumexp(entry[1], total + lp)
        ranked = sorted(nxt.items(), key=lambda kv: _logsumexp(*kv[1]), reverse=True)[:beam_width]
        beams = {k: (v[0], v[1]) for k, v in ranked}
    best_prefix, (pb, pnb) = max(beams.items(), key=lambda kv: _logsumexp(*kv[1]))
    score = _logsumexp(pb, pnb)
    return charset.decode(best_prefix), float(math.exp(score / probs.shape[0]))
