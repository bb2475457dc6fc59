"""The fixed Chinese evaluation lines: held-out sentences drawn in held-out font families.

``heldout_lines("test", 1000)`` is what ``make evaluate`` (``training.evaluate --profile zh``) and
``bench/zh_recognition.py`` score; ``heldout_lines("val", 300)`` is what the trainer chooses
``best.pt`` on.  Both are deterministic (seeded; the sentence split is a hash), use only the
families in ``fonts.HELD_OUT_FAMILIES`` (a family first, then one of its faces, so the six LXGW
faces do not outweigh the others) and sentences of the corpus slice the training never reads.
Lines are mildly degraded (``augment`` at strength 0.4).

``invoice_lines`` adds generated invoice/receipt fields (amounts, dates, tax ids, addresses) in the
same held-out faces: their vocabulary is trained on, their exact strings are random.
"""

from __future__ import annotations

import random

import numpy as np

from ..render import augment
from .corpus import sentence_lines
from .fonts import Face, face_coverage, split_faces
from .render import render_zh_line

SEEDS = {"val": 7, "test": 20261130}


def _by_family(faces: list[Face]) -> list[list[Face]]:
    fams: dict[str, list[Face]] = {}
    for f in faces:
        fams.setdefault(f.family, []).append(f)
    return [fams[k] for k in sorted(fams)]


def _draw(text: str, families: list[list[Face]], rng: random.Random, nrng: np.random.Generator):
    face = rng.choice(rng.choice(families))
    cover = face_coverage(face.path, face.index)
    text = " ".join("".join(c for c in text if c in cover or c == " ").split())
    if not text:
        return None
    return augment(render_zh_line(text, face, rng), nrng, 0.4, min_scale=0.55), text


def heldout_lines(split: str = "test", n: int = 1000, seed: int | None = None) -> list[tuple[np.ndarray, str]]:
    """``n`` rendered ``(gray image, text)`` lines of held-out sentences in held-out faces."""
    seed = SEEDS[split] if seed is None else seed
    _, held = split_faces()
    sentences = sentence_lines(split)
    families = _by_family(held)
    if not families or not sentences:
        return []
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    out = []
    while len(out) < n:
        item = _draw(rng.choice(sentences), families, rng, nrng)
        if item:
            out.append(item)
    return out


def invoice_lines(n: int = 300, seed: int = 1130) -> list[tuple[np.ndarray, str]]:
    """``n`` generated invoice/receipt lines in held-out faces (needs jieba for the word phrases)."""
    from .generators import ZhText, invoice_field, item_row, receipt_line

    _, held = split_faces()
    families = _by_family(held)
    words = ZhText("test").words
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    gens = (invoice_field, item_row, receipt_line)
    out = []
    while len(out) < n and families:
        text = " ".join(rng.choice(gens)(rng, words).split())[:28].strip()
        item = _draw(text, families, rng, nrng) if text else None
        if item:
            out.append(item)
    return out
