"""Rendered pages of several columns of running text (a title across them, a centred page number
below), and tables, with every line's text and ink box in the order a person reads them.

Used by ``bench/reading_order.py`` (held-out fonts, generated prose) and by the layout tests (DejaVu
Serif, a fixed paragraph).  No real multi-column page may be trained or tuned on and none is in
``../shared``, so these are drawn here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SERIF = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
SERIF_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf")

PROSE = (
    "Optical character recognition turns pictures of text into text that a program can search, index and quote. "
    "A page is first cut into lines, each line is read by a recognizer, and the lines are joined in the order a "
    "person would read them. On a page of two columns that order runs down the left column before it starts at "
    "the top of the right one, which is why the reading order matters as much as the letters themselves. Tables "
    "and forms are different: there a label and its value share a row, and a reader goes across before going "
    "down. Newspapers, journals and books print narrow columns because short lines are easier to follow, and a "
    "scanner that joins the columns line by line turns every sentence into a puzzle. The same is true of the "
    "exports: a search index built from interleaved columns finds phrases that no author ever wrote. "
)
TITLE = "Reading order on pages of several columns"


@dataclass(frozen=True)
class RenderedPage:
    image: np.ndarray
    texts: list[str]
    """Every line's text in reading order."""
    boxes: list[tuple[int, int, int, int]]
    """Every line's ink box, in the same order."""


def _fonts(size: int, regular: Path, bold: Path | None):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    return ImageFont.truetype(str(regular), size), ImageFont.truetype(str(bold or regular), round(size * 1.6))


def _wrap(draw, font, words: list[str], width: int) -> list[str]:  # type: ignore[no-untyped-def]
    lines, current = [], ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if current and draw.textlength(candidate, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return lines + ([current] if current else [])


def columns_page(
    columns: int = 2,
    size: int = 18,
    width: int = 1200,
    lines_per_column: int = 12,
    gutter: int = 40,
    stagger: int = 0,
    title: bool = True,
    prose: str = PROSE,
    regular: Path = SERIF,
    bold_font: Path | None = SERIF_BOLD,
    heading: str = TITLE,
) -> RenderedPage:
    """A title across the page, ``columns`` columns of running text (the ``k``-th column shifted
    down by ``k × stagger`` px, so baselines need not align), a centred page number at the foot."""
    from PIL import Image, ImageDraw

    font, bold = _fonts(size, regular, bold_font)
    pitch = round(size * 1.45)
    margin, top = 60, 60
    height = top + 90 + columns * stagger + lines_per_column * pitch + 140
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    texts: list[str] = []
    boxes: list[tuple[int, int, int, int]] = []

    def put(x: int, y: int, text: str, face) -> None:  # type: ignore[no-untyped-def]
        draw.text((x, y), text, font=face, fill=0)
        box = draw.textbbox((x, y), text, font=face)
        texts.append(text)
        boxes.append((int(box[0]), int(box[1]), int(box[2]), int(box[3])))

    if title:
        put(margin, top, heading, bold)
    body = top + 90
    column_width = (width - 2 * margin - (columns - 1) * gutter) // columns
    words = prose.split()
    while len(words) < columns * lines_per_column * 20:
        words += prose.split()
    lines = _wrap(draw, font, words, column_width)
    for c in range(columns):
        x = margin + c * (column_width + gutter)
        for k in range(lines_per_column):
            put(x, body + c * stagger + k * pitch, lines[c * lines_per_column + k], font)
    put(width // 2 - size // 2, height - 70, "12", font)
    return RenderedPage(np.asarray(img), texts, boxes)


def table_page(rows: int = 8, size: int = 20, regular: Path = SERIF) -> RenderedPage:
    """A three-column table (item, quantity, price): read row by row, never column by column."""
    from PIL import Image, ImageDraw

    font, _ = _fonts(size, regular, None)
    img = Image.new("L", (1000, 120 + rows * 40), 255)
    draw = ImageDraw.Draw(img)
    items = ["Paper, A4, 500 sheets", "Stapler", "Ink cartridge, black", "Envelopes C5", "Folders", "Pens, blue"]
    texts: list[str] = []
    boxes: list[tuple[int, int, int, int]] = []
    for r in range(rows):
        y = 60 + r * 40
        for x, text in ((60, items[r % len(items)]), (560, str(r + 2)), (800, f"{(r + 1) * 3.25:.2f}")):
            draw.text((x, y), text, font=font, fill=0)
            box = draw.textbbox((x, y), text, font=font)
            texts.append(text)
            boxes.append((int(box[0]), int(box[1]), int(box[2]), int(box[3])))
    return RenderedPage(np.asarray(img), texts, boxes)
