"""Internal shape constants of the OpenCV line detector, shared by all its stages.

Kept apart from the stages so that each stage module can read them without importing the detector,
and so that ``bench/detection_eval.py --tune`` has one place to look them up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .layout import ColumnRule


@dataclass(frozen=True)
class Tuning:
    """Internal shape constants, in pipeline order, measured on sroie-train with
    ``bench/detection_eval.py --split sroie-train --tune NAME=V1,V2``.

    Lengths are ratios to the page's median character height (its *unit*), so they hold at any
    resolution; the operator-facing thresholds live in :class:`~ocr_server.config.DetectionConfig`.
    """

    # -- ink
    strong_c_factor: float = 5.0
    """Hysteresis: a component is ink only if some pixel of it beats the threshold with this × ``adaptiveC``
    (paper texture and CLAHE-amplified grain pass the weak threshold but have no dark core)."""
    rule_frac: float = 0.1
    """Straight ink runs longer than this fraction of the page width (height) are table rules and erased."""
    # -- which components are glyphs
    small_frac: float = 0.45
    """Components shorter than this many units are marks (dots, commas, hyphens, specks)."""
    flat_height: float = 0.7
    flat_aspect: float = 1.6
    """Shorter than ``flat_height`` units and wider than ``flat_aspect`` × tall: a dash or an equals bar,
    so only a mark (separator rows of thick dashes must not link into lines)."""
    mark_max_width: float = 2.0
    """Marks wider than this many units are dropped (separator dashes, underlines).  Two, not one and
    a half: a Chinese 一 is a flat bar as wide as a character, and on a Chinese page the unit (the
    median component, often a part of a character) is well below a character's height; sroie-dev
    unchanged, funsd-train F1 +0.002, sroie-train recall -0.001."""
    tall_frac: float = 4.0
    """Components taller than this many units are logos, stamps or rules."""
    frame_fill: float = 0.15
    """Components over 2 units both ways with less ink than this fraction of their box are frames or grids."""
    # -- linking glyphs into lines
    band_frac: float = 0.22
    """Half-height of a glyph's linking band, as a fraction of its height."""
    band_cap: float = 1.5
    """Band heights are computed from at most this many units, so blobs spanning two lines can't bridge them."""
    gap_floor: float = 1.0
    """Gaps are measured in at least this many units, so lower-case words (x-height) aren't split."""
    row_reach: float = 4.0
    """Glyphs up to this many line heights apart are linked into one printed row before the row is
    cut at its wide gaps (a gap bridged by punctuation marks is not cut); at most ``merge_gap``: off."""
    outlier_ratio: float = 1.8
    """A glyph taller than this × its line's median glyph is split off the line (0 disables)."""
    drop_outliers: bool = True
    """Split-off outliers (punch holes, handwriting, blots) are dropped rather than kept as lines."""
    punct_cell: float = 1.25
    """A core shorter than ``min_core_frac`` units (CJK full-width ，、；) counts as filling a cell this
    many units wide when gaps are measured and bridged (0 disables, and such cores bridge nothing).
    sroie-dev precision 0.915 → 0.918, recall unchanged; funsd-train F1 +0.003."""
    mark_cell: float = 0.0
    """A mark counts as filling a cell this many units wide from its left edge when gaps are bridged
    (0: its own width).  Off for Latin script, where a colon is half-width; see :data:`CJK_TUNING`."""
    filler_frac: float = 0.0
    """Cores shorter than this many units count as punctuation filling an em cell (at least
    ``min_core_frac``): a large full-width ，(0.64 units at 40 px in Noto Serif CJK) sits low in its
    cell, links into no row, and must still show that the em of white after it is inside the line."""
    # -- which groups are lines
    min_core_frac: float = 0.6
    """A line needs one glyph of at least this many units (rows of dots and dashes have none)."""
    lone_core_frac: float = 0.85
    """A one-glyph line needs that glyph to be at least this many units (noise specks are shorter)."""
    lone_word_aspect: float = 3.0
    """A one-glyph line at least this many times wider than tall is a word whose letters fused (small
    caps at 100 dpi: a form's ``COMPOUND`` label is one 47 x 7 px shape) and needs only
    ``min_core_frac`` units, not ``lone_core_frac`` (0 disables)."""
    lone_max_frac: float = 2.0
    """A one-glyph line taller than this many units is a blot or a stamp (a lone character is body-sized)."""
    blob_frac: float = 2.5
    """A line of at most two shapes, all taller than this many units, is a logo or a stamp."""
    min_glyph_fill: float = 0.5
    """A line whose median glyph inks less of its box than this × the page's median glyph is handwriting
    or a scribble (0 disables)."""
    # -- marks
    attach_gap: float = 0.5
    """A mark attaches to a line at most this many line heights to its left or right."""
    attach_slack: float = 0.1
    """A mark's centre may lie this many line heights above or below the line and still belong to it."""
    max_mark_growth: float = 3.0
    """A line that attached marks made wider than this × its glyphs is a separator row (0 disables)."""
    min_contrast: float = 0.6
    """A one-glyph line with less ink contrast than this × the page's median line is show-through or a
    shadow (0 disables)."""
    # -- small text
    small_unit: float = 10.0
    """A page whose unit is under this many pixels is detected enlarged (``0`` disables).  Why: the
    unit counts only components of ``minLineHeight`` (6 px) or more, so on small text it is the
    capitals' height, and under 10 px the lower-case x-height (about 0.6 of it) falls under
    ``minLineHeight``: those letters vanish, and with them whole lower-case words (rendered 11 px
    lines: page CER 5.1 %; enlarged, 2.1 %).  The boxes come back at the page's own scale.  Measured
    on the 132 funsd-fit forms (100 dpi, units 8-14): page CER 11.0 % as before, 10.7 % with this
    threshold at 44 ms of detection a page, 10.6 % with 12 px at 61 ms (18 ms unenlarged)."""
    small_target: float = 16.0
    """... scaled so that its unit becomes about this many pixels, by a factor of 1.5 to 2 (10 px
    capitals: 1.6; 8 px: 2) ..."""
    max_upscaled_pixels: int = 4_000_000
    """... or less, so that the enlarged page holds at most this many pixels (a 1920 x 1080 screenshot
    is enlarged 1.39 times): the detector's time and memory stay those of a 4 MP page, whatever the
    upload (a noise page made to look like small text included); under 1.25 times it is not enlarged."""
    # -- output
    pad_frac: float = 0.12
    """Each returned box grows by this fraction of its height on every side (about the ground truth's margin)."""
    row_overlap: float = 0.5
    """Boxes share a reading-order row when their centre lies within this fraction of the row's height."""
    columns: ColumnRule = field(default_factory=ColumnRule)
    """When a white gutter separates columns of running text, read whole columns (:mod:`.layout`)."""


CJK_TUNING = Tuning(gap_floor=2.0, mark_cell=1.25, filler_frac=0.75, attach_gap=1.0)
"""For models that read Chinese, Japanese or Korean (``model.json`` ``language``).

Why apart from the Latin settings: a CJK character is often several components (码 = 石 + 马), so the
page's unit (its median component) is about half an em and gaps measured in it are too strict;
letter-spaced headings and form labels (``发 票 号 码``) put 0.5-0.8 em between characters, and
full-width ：，sit in an em cell of their own with most of it white.  Measured on rendered pages in
three CJK families at 16/24/40 px (``tests/ocr_server/test_cjk_detection.py``): letter-spaced lines
are found whole up to 0.8 em (the Latin settings split them from 0.45 em), and a ，too large to be a
mark no longer splits its line.  The wider gap floor would join item and price columns on Latin
receipts (``bench/detection_eval.py --tune gap_floor=1.0,2.0``: sroie-dev F1 0.910 → 0.828), which
is why English keeps :class:`Tuning`'s defaults."""

CJK_LANGUAGES = ("zh", "ja", "ko")
"""Primary BCP 47 subtags of the scripts :data:`CJK_TUNING` is for."""


def tuning_for(language: str | None) -> Tuning:
    """The shape constants for a model that reads ``language`` (a BCP 47 tag such as ``zh-Hans``;
    None: unstated, the Latin defaults)."""
    primary = (language or "").split("-", 1)[0].lower()
    return CJK_TUNING if primary in CJK_LANGUAGES else Tuning()
