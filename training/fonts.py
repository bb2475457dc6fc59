"""Discover the Debian-packaged fonts used for synthetic training lines and split them.

Fonts are grouped by family; whole families are held out (``HELD_OUT_FAMILIES``) so evaluation on
synthetic lines measures generalisation to typefaces the network never saw.  Symbol, weather,
seven-segment and hairline faces are excluded: they do not draw ordinary Latin text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
EXCLUDE = re.compile(
    r"dseg|d050000l|standardsymbol|math|weather|hairline|thin|z003|extralight|opensymbol|terminus|"
    r"smallcaps|league ?spartan-black|"
    # caps-only or small-caps display faces (lower-case text would be drawn as capitals) and
    # faces too distorted to read reliably
    r"humor-sans|markedfool|winks|flatline|progenisis|swift|it_wasn",
    re.IGNORECASE,
)
# Whole families kept out of training; used for the "unseen fonts" evaluation.
HELD_OUT_FAMILIES = frozenset({"caladea", "cantarell", "inconsolata", "charissil", "go"})
# The Debian packages that provide the fonts (installed by `make setup`).
FONT_PACKAGES = [
    "fonts-dejavu-core",
    "fonts-liberation2",
    "fonts-freefont-ttf",
    "fonts-croscore",
    "fonts-roboto",
    "fonts-open-sans",
    "fonts-lato",
    "fonts-jetbrains-mono",
    "fonts-urw-base35",
    "fonts-texgyre",
    "fonts-crosextra-carlito",
    "fonts-crosextra-caladea",
    "fonts-inconsolata",
    "fonts-hack",
    "fonts-firacode",
    "fonts-cantarell",
    "fonts-linuxlibertine",
    "fonts-anonymous-pro",
    "fonts-go",
    "fonts-noto-mono",
    "fonts-league-spartan",
    "fonts-sil-charis",
    "fonts-courier-prime",
    # display and signage faces, for scene text (shop signs, posters, book covers)
    "fonts-comic-neue",
    "fonts-lobster",
    "fonts-cabin",
    "fonts-comfortaa",
    "fonts-quicksand",
    "fonts-yanone-kaffeesatz",
    "fonts-ebgaramond",
    "fonts-sil-andika",
    "fonts-roadgeek",
    "fonts-b612",
    "fonts-vollkorn",
    "fonts-inter",
    "fonts-jura",
    "fonts-adf-gillius",
    "fonts-adf-universalis",
    "fonts-dustin",
    "fonts-manrope",
    "fonts-sora",
    "fonts-averia-sans-gwf",
    "fonts-averia-serif-gwf",
    "fonts-junicode",
    "fonts-engadget",
    "fonts-okolaks",
    "fonts-radisnoir",
    "fonts-arkpandora",
]


@dataclass(frozen=True)
class FontFile:
    path: Path
    family: str
    monospace: bool


def _family(path: Path) -> str:
    stem = path.stem.lower().replace(" ", "")
    stem = re.split(r"[-_]", stem)[0]
    for suffix in ("bold", "italic", "oblique", "regular", "light", "medium", "semibold", "condensed", "mono"):
        if stem.endswith(suffix) and len(stem) > len(suffix) + 2:
            stem = stem[: -len(suffix)]
    if stem.startswith("courierprime"):
        return "courierprime"
    if stem.startswith("anonymouspro"):
        return "anonymouspro"
    if stem.startswith("go"):
        return "go"
    if stem.startswith(("free", "liberation", "dejavu", "texgyre", "lin")):
        return re.sub(r"(mono|sans|serif).*$", r"\1", stem)
    return stem


@lru_cache(maxsize=1)
def discover_fonts() -> tuple[FontFile, ...]:
    """Every usable TrueType/OpenType file under the system font folders, sorted for determinism.

    The Chinese packages' files (``training/zh/fonts.py``) are left out: they belong to the zh
    profile, and the English font list must not change because they are installed."""
    from .zh.fonts import font_files

    cjk = font_files()
    files: list[FontFile] = []
    for root in FONT_DIRS:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() not in (".ttf", ".otf") or EXCLUDE.search(path.name) or path in cjk:
                continue
            name = path.stem.lower()
            mono = any(k in name for k in ("mono", "courier", "cousine", "code", "hack", "inconsolata", "anonymous"))
            files.append(FontFile(path, _family(path), mono))
    return tuple(files)


def split_fonts(fonts: tuple[FontFile, ...] | None = None) -> tuple[list[FontFile], list[FontFile]]:
    """(training fonts, held-out fonts)."""
    fonts = fonts if fonts is not None else discover_fonts()
    train = [f for f in fonts if f.family not in HELD_OUT_FAMILIES]
    held = [f for f in fonts if f.family in HELD_OUT_FAMILIES]
    return train, held


@lru_cache(maxsize=512)
def font_coverage(path: Path) -> frozenset[str]:
    """Characters the font has glyphs for (from its cmap), so text is never drawn as tofu boxes."""
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True, fontNumber=0) as tt:
        cmap = tt.getBestCmap() or {}
    return frozenset(chr(c) for c in cmap)
