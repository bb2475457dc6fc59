"""A font for invisible text that carries any Unicode character: Tesseract's "glyphless font" recipe.

The searchable PDF draws its words in render mode 3 (invisible), so the font needs no shapes, only
a way for viewers to map the codes back to Unicode.  A simple font (Helvetica, WinAnsiEncoding) has
256 codes, which cannot hold Chinese; this one is a composite (``Type0``) font with the ``Identity-H``
encoding, two bytes a character:

* the code of a character is its Unicode code point (the Basic Multilingual Plane: all of GB 2312,
  full-width punctuation and every Latin script); anything beyond it is written as U+FFFD;
* ``ToUnicode`` maps each code back to the same code point, which is what text extraction, search
  and copy-paste read;
* the descendant ``CIDFontType2`` embeds a TrueType font of one plain glyph, built here with
  fontTools, and a ``CIDToGIDMap`` sending every code to it, so no viewer looks for a font it lacks
  (an unembedded CID font makes some viewers warn);
* every glyph is half an em wide (``DW 500``), so a word of *n* characters is ``n / 2`` font sizes
  wide before ``Tz`` stretches it over its box, exactly as the simple font was.
"""

from __future__ import annotations

import functools
import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pikepdf

CHAR_WIDTH = 500  # every glyph's width, in 1/1000 em
REPLACEMENT = 0xFFFD
FONT_NAME = "GlyphLessFont"


def cid_of(ch: str) -> int:
    """The two-byte code of ``ch``: its code point in the BMP (surrogates excluded), else U+FFFD."""
    cp = ord(ch)
    return cp if cp <= 0xFFFF and not 0xD800 <= cp <= 0xDFFF else REPLACEMENT


def encode_text(text: str) -> bytes:
    """``text`` as a PDF hex string of Identity-H codes (``<4F60597D>``)."""
    return b"<" + "".join(f"{cid_of(ch):04X}" for ch in text).encode("ascii") + b">"


def to_unicode_cmap() -> bytes:
    """The ``ToUnicode`` CMap: each code to the same code point, one ``bfrange`` per high byte (a
    range may only vary in its last byte), surrogate codes left out."""
    ranges = [f"<{hi:02X}00> <{hi:02X}FF> <{hi:02X}00>" for hi in range(256) if not 0xD8 <= hi <= 0xDF]
    body = []
    for start in range(0, len(ranges), 100):  # at most 100 entries per block, as the CMap syntax requires
        chunk = ranges[start : start + 100]
        body += [f"{len(chunk)} beginbfrange", *chunk, "endbfrange"]
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            "<0000> <FFFF>",
            "endcodespacerange",
            *body,
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    ).encode("ascii")


@functools.cache
def glyphless_truetype() -> bytes:
    """A TrueType font whose glyph 1 is a plain cell half an em wide (glyph 0 is an empty ``.notdef``).

    The cell is an outline, not nothing: PDFium leaves out of its extracted text a one-character
    text object whose glyph has no extent (so a Chinese word, one character, vanished); the text is
    drawn in render mode 3, so the outline is never painted."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    empty = TTGlyphPen(None).glyph()
    pen = TTGlyphPen(None)  # the glyph's box: a cell, never painted in render mode 3
    pen.moveTo((0, -200))
    pen.lineTo((0, 800))
    pen.lineTo((CHAR_WIDTH, 800))
    pen.lineTo((CHAR_WIDTH, -200))
    pen.closePath()
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder([".notdef", "cell"])
    fb.setupCharacterMap({})
    fb.setupGlyf({".notdef": empty, "cell": pen.glyph()})
    fb.setupHorizontalMetrics({".notdef": (CHAR_WIDTH, 0), "cell": (CHAR_WIDTH, 0)})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": FONT_NAME, "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200)
    fb.setupPost()
    out = io.BytesIO()
    fb.save(out)
    return out.getvalue()


def add_glyphless_font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    """The Type0 font object (indirect, to be shared by every page's resources) in ``pdf``."""
    import pikepdf

    font_file = pdf.make_stream(glyphless_truetype())
    descriptor = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.FontDescriptor,
            FontName=pikepdf.Name(f"/{FONT_NAME}"),
            Flags=5,  # fixed pitch, symbolic
            FontBBox=[0, -200, CHAR_WIDTH, 800],
            ItalicAngle=0,
            Ascent=800,
            Descent=-200,
            CapHeight=800,
            StemV=80,
            FontFile2=font_file,
        )
    )
    # every code → glyph 1 (big-endian 16-bit GIDs): 128 KB that Flate compresses to a few hundred bytes
    cid_to_gid = pdf.make_stream(b"\x00\x01" * 65536)
    descendant = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.CIDFontType2,
            BaseFont=pikepdf.Name(f"/{FONT_NAME}"),
            CIDSystemInfo=pikepdf.Dictionary(
                Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"), Supplement=0
            ),
            FontDescriptor=descriptor,
            DW=CHAR_WIDTH,
            CIDToGIDMap=cid_to_gid,
        )
    )
    return pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type0,
            BaseFont=pikepdf.Name(f"/{FONT_NAME}"),
            Encoding=pikepdf.Name("/Identity-H"),
            DescendantFonts=[descendant],
            ToUnicode=pdf.make_stream(to_unicode_cmap()),
        )
    )
