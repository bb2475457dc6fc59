"""The Chinese faces: which Debian CJK font files and collection faces draw training lines, which
are held out for evaluation, and what each covers.

Faces are picked by their family name (name table), so a ``.ttc`` collection contributes only its
simplified-Chinese faces (Noto CJK *SC*, AR PL *CN*), never the JP/KR/TC/HK ones whose glyph shapes
follow other regional standards.  A face must cover at least ``MIN_HANZI_COVERAGE`` of the 6,763
GB 2312 hanzi: the cwTeX faces (traditional Chinese, about 4,400 of them) fail that and are
skipped.  A text is drawn only with characters its face has (``face_coverage``), never as tofu.

Held out, never used in training (the "unseen fonts" evaluation): ``HELD_OUT_FAMILIES``:
WenQuanYi Micro Hei *and* Droid Sans Fallback (Micro Hei is derived from Droid's outlines, so they
go out together), and LXGW WenKai (a kai face unlike the two trained kai faces).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .charset import gb2312_hanzi

# The Debian packages of the Chinese fonts (requirements/apt.txt; the model card lists them).
FONT_PACKAGES_ZH = [
    "fonts-noto-cjk",
    "fonts-arphic-ukai",
    "fonts-arphic-uming",
    "fonts-arphic-gbsn00lp",
    "fonts-arphic-gkai00mp",
    "fonts-wqy-zenhei",
    "fonts-wqy-microhei",
    "fonts-cwtex-kai",
    "fonts-cwtex-ming",
    "fonts-droid-fallback",
    "fonts-lxgw-wenkai",
]
# Where those packages put their files (fonts-droid-fallback also has a non-"Full" copy elsewhere).
FONT_GLOBS = (
    "/usr/share/fonts/opentype/noto/Noto*CJK-*.ttc",
    "/usr/share/fonts/truetype/arphic/*.ttc",
    "/usr/share/fonts/truetype/arphic-gbsn00lp/*.ttf",
    "/usr/share/fonts/truetype/arphic-gkai00mp/*.ttf",
    "/usr/share/fonts/truetype/wqy/*.ttc",
    "/usr/share/fonts/truetype/cwtex/*.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/lxgw-wenkai/*.ttf",
)
# family name (from the name table) -> our family key; faces of other names are not used
FAMILIES = (
    (re.compile(r"^Noto Sans (Mono )?CJK SC$"), "noto-sans-sc"),
    (re.compile(r"^Noto Serif CJK SC$"), "noto-serif-sc"),
    (re.compile(r"^AR PL UKai CN$"), "arphic-ukai"),
    (re.compile(r"^AR PL UMing CN$"), "arphic-uming"),
    (re.compile(r"^AR PL SungtiL GB$"), "arphic-gbsn"),
    (re.compile(r"^AR PL KaitiM GB$"), "arphic-gkai"),
    (re.compile(r"^WenQuanYi Zen Hei"), "wqy-zenhei"),
    (re.compile(r"^WenQuanYi Micro Hei"), "wqy-microhei"),
    (re.compile(r"^cwTeX"), "cwtex"),
    (re.compile(r"^Droid Sans Fallback$"), "droid-fallback"),
    (re.compile(r"^LXGW WenKai"), "lxgw-wenkai"),
)
HELD_OUT_FAMILIES = frozenset({"wqy-microhei", "droid-fallback", "lxgw-wenkai"})
MIN_HANZI_COVERAGE = 0.98


@dataclass(frozen=True)
class Face:
    """One drawable face: a file and, for a ``.ttc`` collection, the face's index in it."""

    path: Path
    index: int
    family: str
    name: str  # "Noto Sans CJK SC Bold", for reports


def _family_key(name: str) -> str | None:
    for pattern, key in FAMILIES:
        if pattern.search(name):
            return key
    return None


def _faces_in(path: Path) -> list[tuple[int, str, str]]:
    """``(index, family name, style)`` of each face in a font file."""
    from fontTools.ttLib import TTCollection, TTFont

    if path.suffix.lower() == ".ttc":
        fonts = TTCollection(str(path), lazy=True).fonts
    else:
        fonts = [TTFont(str(path), lazy=True)]
    out = []
    for i, tt in enumerate(fonts):
        names = tt["name"]
        family = names.getDebugName(16) or names.getDebugName(1) or path.stem
        style = names.getDebugName(17) or names.getDebugName(2) or ""
        out.append((i, family, style))
    return out


@lru_cache(maxsize=256)
def face_coverage(path: Path, index: int = 0) -> frozenset[str]:
    """Characters the face has glyphs for (its cmap)."""
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True, fontNumber=index) as tt:
        cmap = tt.getBestCmap() or {}
    return frozenset(chr(c) for c in cmap)


def hanzi_coverage(face: Face) -> float:
    cover = face_coverage(face.path, face.index)
    hanzi = gb2312_hanzi()
    return sum(c in cover for c in hanzi) / len(hanzi)


@lru_cache(maxsize=1)
def discover_faces() -> tuple[Face, ...]:
    """Every usable simplified-Chinese face installed, sorted for determinism."""
    faces = []
    for pattern in FONT_GLOBS:
        root, _, glob = pattern.rpartition("/")
        for path in sorted(Path(root).glob(glob)) if Path(root).is_dir() else []:
            for index, family, style in _faces_in(path):
                key = _family_key(family)
                if key is None:
                    continue
                face = Face(path, index, key, f"{family} {style}".strip())
                if hanzi_coverage(face) >= MIN_HANZI_COVERAGE:
                    faces.append(face)
    return tuple(faces)


def split_faces(faces: tuple[Face, ...] | None = None) -> tuple[list[Face], list[Face]]:
    """(training faces, held-out faces): whole families apart."""
    faces = faces if faces is not None else discover_faces()
    return [f for f in faces if f.family not in HELD_OUT_FAMILIES], [f for f in faces if f.family in HELD_OUT_FAMILIES]


def font_files() -> frozenset[Path]:
    """Every file the Chinese packages install (so the English profile can leave them out)."""
    files = set()
    for pattern in FONT_GLOBS:
        root, _, glob = pattern.rpartition("/")
        if Path(root).is_dir():
            files.update(Path(root).glob(glob))
    return frozenset(files)
