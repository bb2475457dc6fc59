"""Make a bundle's golden set: a few known lines the server must read back at start-up.

    python -m training.golden models/crnn-en-1.2.0 [--profile en] [--seed 18]

Renders the profile's lines (:class:`GoldenSource`: texts and fonts of the bundle's language) with
``training/render.py`` into ``<bundle>/golden/`` (``golden.jsonl`` + PNGs), reads them back with the
bundle's ONNX model through the server's own recognizer and gate code
(:mod:`ocr_server.recognition.golden`), and writes ``"golden": {"file", "lines", "cer", "max_cer"}``
into ``model.json`` and a section into ``MODEL_CARD.md``.  ``training.export`` calls
:func:`make_golden` for every new bundle.

Torch-free on purpose: it needs the renderer (Pillow, OpenCV) and ONNX Runtime only, so any
bundle, old or new, can get its set without the training stack.

Why the bound is ``max(2 x measured, measured + 0.02)``: the server re-reads the same images with
the same code, but its thread count (hence float summation order) may differ from the maker's,
which can flip a character on a borderline frame; 0.02 of a ~700-character set is ~14 characters
of slack, so a healthy model never fails on that noise, while a model that really misreads (a broken
export, a wrong charset, weights of a failed run) measures tens of percent and fails.  The 2x term
keeps the slack proportionate for a weaker model whose measured CER is already higher.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ocr_server.recognition.golden import GOLDEN_KEY, GoldenSpec, measure, read_golden
from ocr_server.recognition.recognizer import Recognizer
from ocr_server.recognition.registry import read_bundle

from .render import augment, render_line

GOLDEN_DIR = "golden"
GOLDEN_FILE = f"{GOLDEN_DIR}/golden.jsonl"
DEFAULT_SEED = 18  # issue 18; any fixed number: the set must be the same every time it is made
MARGIN_ABSOLUTE = 0.02
MARGIN_FACTOR = 2.0
CARD_HEADING = "## Golden set (start-up reading gate)"


def golden_bound(measured: float) -> float:
    """The largest CER the server accepts: ``max(2 x measured, measured + 0.02)``, rounded *up* to
    four decimals (so rounding never makes it stricter than the formula)."""
    bound = max(MARGIN_FACTOR * measured, measured + MARGIN_ABSOLUTE)
    return math.ceil(round(bound * 10_000, 6)) / 10_000


@dataclass(frozen=True)
class GoldenLine:
    """One line of the set: its text and its style.

    ``style`` picks the fonts (``receipt`` lines use the monospace faces, as till printers do) and
    the rendering: ``clean`` lines are drawn as rendered, ``worn`` ones lightly degraded."""

    text: str
    style: str = "document"
    worn: bool = False


@dataclass(frozen=True)
class GoldenSource:
    """What a language profile hands the maker: its lines and the fonts to draw them in.

    Fonts should be ones the training never used (held-out families), so the set checks reading,
    not memory of a typeface.  ``describe`` goes into the model card."""

    language: str
    lines: tuple[GoldenLine, ...]
    fonts: tuple[Path, ...]
    mono_fonts: tuple[Path, ...] = ()
    describe: str = ""

    def fonts_for(self, line: GoldenLine) -> tuple[Path, ...]:
        if line.style == "receipt" and self.mono_fonts:
            return self.mono_fonts
        return self.fonts


# English: plain document sentences, receipt lines, digits and punctuation, mixed case.  Fixed text
# (not the training generators, whose output depends on the installed word list): the set is the
# same on every machine that has the fonts.
ENGLISH_LINES: tuple[GoldenLine, ...] = (
    GoldenLine("Please return the signed form by Friday."),
    GoldenLine("The quarterly report is attached for review.", worn=True),
    GoldenLine("Shipping address: 42 Elm Street, Springfield"),
    GoldenLine("Thank you for your order!"),
    GoldenLine("Payment is due within 30 days of the invoice date.", worn=True),
    GoldenLine("Contact us at support@example.com"),
    GoldenLine("2 x Coffee Latte 4.50 9.00", "receipt"),
    GoldenLine("SUBTOTAL 27.35", "receipt", worn=True),
    GoldenLine("GST 6% 1.64", "receipt"),
    GoldenLine("CASH 50.00 CHANGE 21.01", "receipt"),
    GoldenLine("Receipt No: INV-20231104-0087", "receipt", worn=True),
    GoldenLine("Cashier: Mary Tan Table 12", "receipt"),
    GoldenLine("Date: 14/03/2024 Time: 09:41 AM", "digits"),
    GoldenLine("Tel: 03-7865 4421 Fax: 03-7865 4422", "digits", worn=True),
    GoldenLine("Order #58213 (3 items) = $126.75", "digits"),
    GoldenLine("1,234,567.89", "digits"),
    GoldenLine("Ref: A7-99/2023; Qty 12 @ 3.25", "digits", worn=True),
    GoldenLine("+44 (0)20 7946 0958", "digits"),
    GoldenLine("McDonald's Drive-Thru, Kuala Lumpur", "mixed"),
    GoldenLine("iPhone 15 Pro Max USB-C Cable", "mixed", worn=True),
    GoldenLine("The Quick Brown Fox Jumps Over 13 Lazy Dogs", "mixed"),
    GoldenLine("eBay, PayPal and LinkedIn accounts", "mixed"),
    GoldenLine("Invoice for Acme Corp. (Q3 FY2024)", "mixed", worn=True),
    GoldenLine("NOTICE OF ANNUAL GENERAL MEETING", "mixed"),
    GoldenLine("a lower case line with no capitals", "mixed"),
    GoldenLine("Unit 5B, Level 3, Menara Sentral", "mixed", worn=True),
    GoldenLine("50% off selected items* while stocks last", "mixed"),
    GoldenLine("Account ID: xK9-Pq2-77Z", "mixed"),
)


def english_source() -> GoldenSource:
    """crnn-en's profile: :data:`ENGLISH_LINES` in the font families held out of training."""
    from .fonts import HELD_OUT_FAMILIES, split_fonts

    _, held = split_fonts()
    if not held:
        raise RuntimeError("no held-out fonts installed (training/fonts.py HELD_OUT_FAMILIES): `make setup-apt`")
    return GoldenSource(
        language="en",
        lines=ENGLISH_LINES,
        fonts=tuple(f.path for f in held if not f.monospace),
        mono_fonts=tuple(f.path for f in held if f.monospace),
        describe=f"English, in the font families held out of training: {', '.join(sorted(HELD_OUT_FAMILIES))}",
    )


def chinese_source() -> GoldenSource:
    """crnn-zh's profile (training/zh/golden.py)."""
    from .zh.golden import chinese_source as source

    return source()


PROFILES: dict[str, Callable[[], GoldenSource]] = {"en": english_source, "zh": chinese_source}


def render_set(source: GoldenSource, seed: int = DEFAULT_SEED) -> list[tuple[np.ndarray, str]]:
    """The set's ``(gray image, text)`` pairs; the same ``source`` and ``seed`` give the same pixels.

    Each line has its own generators (seeded by ``seed`` and its index), so one line's rendering
    does not depend on the others; fonts go round the style's list in order."""
    out = []
    for i, line in enumerate(source.lines):
        fonts = source.fonts_for(line)
        if not fonts:
            raise ValueError(f"golden source {source.language!r} has no fonts for style {line.style!r}")
        rng = random.Random(f"golden:{seed}:{i}")
        font = fonts[i % len(fonts)]
        image = render_line(line.text, font, rng, size=rng.randint(24, 36))
        if line.worn:
            image = augment(image, np.random.default_rng([seed, i]), strength=0.4)
        out.append((image, line.text))
    return out


def write_set(bundle: Path, items: Sequence[tuple[np.ndarray, str]]) -> Path:
    """Replace ``<bundle>/golden/`` with the items as PNGs and ``golden.jsonl``; returns the folder."""
    folder = bundle / GOLDEN_DIR
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rows = []
    for i, (image, text) in enumerate(items):
        name = f"{i:02d}.png"
        ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if not ok:
            raise RuntimeError(f"cannot encode golden image {name}")
        (folder / name).write_bytes(buf.tobytes())
        rows.append(json.dumps({"image": name, "text": text}, ensure_ascii=False))
    (bundle / GOLDEN_FILE).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def card_section(golden: dict) -> list[str]:
    """The model card's lines about the golden set (also used by ``training.card``)."""
    what = f" ({golden['source']})" if golden.get("source") else ""
    return [
        CARD_HEADING,
        "",
        f"- `{golden['file']}`: {golden['lines']} line images with their text{what}, made by "
        f"`python -m training.golden`. Read with this bundle's ONNX model: CER {golden['cer']:.2%} "
        f"(case-sensitive); the server refuses readiness above **{golden['max_cer']:.2%}** "
        "(`max(2 x measured, measured + 2 points)`).",
        "",
    ]


def update_card(card: Path, section: list[str]) -> None:
    """Put ``section`` into ``card`` in place of an earlier one, else before ``## Limits`` (or at the end)."""
    if not card.is_file():
        return
    lines = card.read_text(encoding="utf-8").split("\n")
    if CARD_HEADING in lines:
        start = lines.index(CARD_HEADING)
        end = next((j for j in range(start + 1, len(lines)) if lines[j].startswith("## ")), len(lines))
        lines[start:end] = section
    elif "## Limits" in lines:
        at = lines.index("## Limits")
        lines[at:at] = section
    else:
        if lines and lines[-1] != "":
            lines.append("")
        lines += section
    card.write_text("\n".join(lines), encoding="utf-8")


def make_golden(bundle: Path, source: GoldenSource, seed: int = DEFAULT_SEED, threads: int = 1) -> dict:
    """Render, write, read back and record the golden set of ``bundle``; returns model.json's entry."""
    items = render_set(source, seed)
    write_set(bundle, items)
    meta_path = bundle / "model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    spec = GoldenSpec(GOLDEN_FILE, len(items), 0.0, 0.0)
    recognizer = Recognizer(read_bundle(bundle), threads=threads)
    measured = round(measure(recognizer, read_golden(bundle, spec)), 4)
    entry = {"file": GOLDEN_FILE, "lines": len(items), "cer": measured, "max_cer": golden_bound(measured)}
    if source.describe:
        entry["source"] = source.describe
    meta[GOLDEN_KEY] = entry
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    update_card(bundle / "MODEL_CARD.md", card_section(entry))
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path, nargs="+", help="bundle folder(s), e.g. models/crnn-en-1.2.0")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="en", help="texts and fonts (default: en)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = ap.parse_args(argv)
    source = PROFILES[args.profile]()
    for bundle in args.bundle:
        entry = make_golden(bundle, source, args.seed)
        size = sum(f.stat().st_size for f in (bundle / GOLDEN_DIR).iterdir())
        print(
            f"{bundle}: {entry['lines']} lines, {size / 1024:.0f} KB, "
            f"CER {entry['cer']:.4f}, bound {entry['max_cer']:.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
