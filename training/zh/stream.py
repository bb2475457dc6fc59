"""The zh profile's endless training stream: synthetic Chinese document lines (torch dataset).

Every sample: a training face (never a held-out family), a line from ``ZhText`` (train slice of
the sentences, word phrases, invoice fields, mixed and uniform lines), its characters filtered to
the face's coverage, drawn by ``render_zh_line``, then degraded: ``office_share`` of lines like an
office scan or fax (shrunk to a 16-28 px line, thresholded, specks), the rest by ``augment``
(blur, noise, JPEG, perspective, light; low resolution no smaller than ``MIN_SCALE``).
A small ``blank_share`` of text-free crops labelled empty, as in English.

From the fifth phase, ``latin_font_share`` of the lines that hold ASCII draw those runs in a Latin
font of the English training pool (``render_zh_line(latin=...)``), as Chinese documents set their
English words and numbers in a western face; the CJK faces' own Latin glyphs are a handful of
designs, and the held-out lines showed the model misreading the Latin of an unseen face.

Two styles that documents are not (added in the third phase, for the users' screenshots and
phone photos, which the document styles never showed the model):

- ``screen_share``: a line drawn natively at UI sizes (``SCREEN_SIZES``, hinted and anti-aliased
  by FreeType, not shrunk from a large rendering), dark on light or light on dark, now and then
  JPEG-compressed as shared screenshots are; nothing else.
- ``scene_share``: a short piece (2-12 characters: a shop sign, a label, a slogan) drawn like the
  English scene words (``training.scene.render_scene``: coloured, textured or cluttered
  backgrounds, outlines, shadows, curved baselines), then mildly degraded like a photo.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

from ocr_server.recognition.charset import Charset

from ..datasets import blank_crop
from ..render import augment, office_scan
from ..scene import render_scene
from ..screen import screen_look
from .charset import fold_label
from .fonts import Face, face_coverage
from .generators import ZhText
from .render import CJK_OUTLINE_DIV, random_piece, render_zh_line

MIN_SCALE = 0.55
OFFICE_TEXT_HEIGHT = (16, 28)
SCREEN_SIZES = (11, 18)
SCENE_CHARS = (2, 12)


@dataclass
class ZhMix:
    office_share: float = 0.2
    screen_share: float = 0.1
    scene_share: float = 0.08
    blank_share: float = 0.01
    latin_font_share: float = 0.0
    augment_strength: float = 0.8
    max_len: int = 28


class ZhLineStream(IterableDataset):
    """Endless, seeded; each DataLoader worker gets its own seed."""

    def __init__(
        self, charset: Charset, faces: list[Face], mix: ZhMix, seed: int, latin_fonts: list[Path] | None = None
    ) -> None:
        self.charset, self.faces, self.mix, self.seed = charset, faces, mix, seed
        self.latin_fonts = latin_fonts or []
        self._text: ZhText | None = None

    def text_source(self) -> ZhText:
        if self._text is None:  # built in the worker: the word table is large to pickle
            self._text = ZhText("train")
        return self._text

    def sample(self, rng: random.Random, nrng: np.random.Generator) -> tuple[np.ndarray, str]:
        for _ in range(10):
            face = rng.choice(self.faces)
            cover = face_coverage(face.path, face.index)
            text = self.charset.normalise(fold_label(self.text_source()(rng, self.mix.max_len)))
            text = " ".join("".join(c for c in text if c in cover or c == " ").split())
            if not text:
                continue
            style = rng.random()
            if style < self.mix.scene_share:
                return self.scene_sample(text, face, rng, nrng)
            latin = self.latin_font(text, rng)
            if style < self.mix.scene_share + self.mix.screen_share:
                return self.screen_sample(text, face, rng, nrng, latin)
            img = render_zh_line(text, face, rng, latin=latin)
            if img.size == 0 or min(img.shape) < 4:
                continue
            if rng.random() < self.mix.office_share:
                return office_scan(img, nrng, OFFICE_TEXT_HEIGHT), text
            return augment(img, nrng, self.mix.augment_strength, min_scale=MIN_SCALE), text
        return np.full((32, 32), 255, np.uint8), ""

    def latin_font(self, text: str, rng: random.Random) -> Path | None:
        """A Latin font for the line's ASCII runs, for ``latin_font_share`` of the lines that have any."""
        if not self.latin_fonts or not any(c.isascii() and c.isalnum() for c in text):
            return None
        return rng.choice(self.latin_fonts) if rng.random() < self.mix.latin_font_share else None

    @staticmethod
    def screen_sample(
        text: str, face: Face, rng: random.Random, nrng: np.random.Generator, latin: Path | None = None
    ) -> tuple[np.ndarray, str]:
        """Native UI-size rendering, either polarity, sometimes JPEG'd; no scan degradations."""
        img = render_zh_line(text, face, rng, size=rng.randint(*SCREEN_SIZES), latin=latin)
        return screen_look(img, rng), text

    @staticmethod
    def scene_sample(text: str, face: Face, rng: random.Random, nrng: np.random.Generator) -> tuple[np.ndarray, str]:
        """A short piece of the line as a sign or label in a photo."""
        piece = random_piece(text.replace(" ", ""), rng, SCENE_CHARS)
        img = render_scene(piece, face.path, rng, index=face.index, outline_div=CJK_OUTLINE_DIV)
        return augment(img, nrng, 0.5, min_scale=MIN_SCALE), piece

    def __iter__(self) -> Iterator[tuple[np.ndarray, str, bool]]:
        info = get_worker_info()
        wid = info.id if info else 0
        rng = random.Random(self.seed * 1000 + wid)
        nrng = np.random.default_rng(self.seed * 1000 + wid)
        while True:
            if rng.random() < self.mix.blank_share:
                yield blank_crop(nrng), "", False
                continue
            img, text = self.sample(rng, nrng)
            if text:
                yield img, text, False
