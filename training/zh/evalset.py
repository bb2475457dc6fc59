"""The fixed Chinese evaluation lines: held-out sentences drawn in held-out font families.

``heldout_lines("test", 1000)`` is what ``make evaluate`` (``training.evaluate --profile zh``) and
``bench/zh_recognition.py`` score; ``heldout_lines("val", 300)`` is what the trainer chooses
``best.pt`` on.  Both are deterministic (seeded; the sentence split is a hash), use only the
families in ``fonts.HELD_OUT_FAMILIES`` (a family first, then one of its faces, so the six LXGW
faces do not outweigh the others) and sentences of the corpus slice the training never reads.
Lines are mildly degraded (``augment`` at strength 0.4).

``invoice_lines`` adds generated invoice/receipt fields (amounts, dates, tax ids, addresses) in the
same held-out faces: their vocabulary is trained on, their exact strings are random.

``screen_lines`` draws short held-out sentence pieces the way a screenshot holds them: natively at UI
sizes (12-16 px a character, hinted and anti-aliased by FreeType, no scan degradation), dark on light
or light on dark.  The training renders at 24-48 px and shrinks some lines; this set shows how the
model reads text that was small from the start.

``scene_lines`` draws short held-out sentence pieces (2-12 characters) as signs and labels in a photo
(``training.scene.render_scene``: coloured, textured or cluttered backgrounds, outlines, shadows,
curved baselines; then ``augment`` at 0.4), in the held-out faces: how the model reads Chinese
that was never on paper.
"""

from __future__ import annotations

import random

import numpy as np

from ..render import augment
from ..scene import render_scene
from .corpus import sentence_lines
from .fonts import Face, face_coverage, split_faces
from .render import CJK_OUTLINE_DIV, random_piece, render_zh_line

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


SCREEN_SIZES = (12, 13, 14, 15, 16)


def screen_lines(n: int = 300, seed: int = 1201) -> list[tuple[np.ndarray, str]]:
    """``n`` screenshot-like lines: held-out sentence pieces (up to 20 characters) in held-out faces
    at 12-16 px, undegraded; one in four light text on a dark background (dark-mode UIs)."""
    _, held = split_faces()
    sentences = sentence_lines("test")
    families = _by_family(held)
    if not families or not sentences:
        return []
    rng = random.Random(seed)
    out: list[tuple[np.ndarray, str]] = []
    while len(out) < n:
        face = rng.choice(rng.choice(families))
        cover = face_coverage(face.path, face.index)
        sentence = rng.choice(sentences)
        start = rng.randrange(max(1, len(sentence) - 8))
        text = " ".join("".join(c for c in sentence[start : start + 20] if c in cover or c == " ").split())
        if not text:
            continue
        img = render_zh_line(text, face, rng, size=rng.choice(SCREEN_SIZES))
        out.append((255 - img if rng.random() < 0.25 else img, text))
    return out


def scene_lines(n: int = 300, seed: int = 1202) -> list[tuple[np.ndarray, str]]:
    """``n`` photo-like sign/label pieces of held-out sentences in held-out faces (see the module doc)."""
    _, held = split_faces()
    sentences = sentence_lines("test")
    families = _by_family(held)
    if not families or not sentences:
        return []
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    out: list[tuple[np.ndarray, str]] = []
    while len(out) < n:
        face = rng.choice(rng.choice(families))
        cover = face_coverage(face.path, face.index)
        sentence = "".join(c for c in rng.choice(sentences) if c in cover)
        text = " ".join(random_piece(sentence, rng, (2, 12)).split())
        if not text:
            continue
        img = render_scene(text, face.path, rng, index=face.index, outline_div=CJK_OUTLINE_DIV)
        out.append((augment(img, nrng, 0.4, min_scale=0.55), text))
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
