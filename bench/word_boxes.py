"""Word-box accuracy: OCR word boxes (from CTC frames + ink) against the exact boxes of a PDF's text.

No shared data set here has word-level boxes (FUNSD's copy and SROIE carry lines), so the truth is
made: PDF pages of random words from the word list and receipt-style tokens in the three standard
PDF families (Helvetica, Times, Courier) at 9-16 pt, rendered at 200 dpi.  PDFium reports each
glyph's box of the page's own text; a word's truth box is the union of its glyphs.  The same page
is OCRed (pixels only).  For every truth word the predicted word with the highest IoU is taken:

* ``mean_iou``   mean of that best IoU over all truth words (0 for a word with no overlap at all);
* ``iou>=0.5``   share of truth words matched at IoU 0.5 (the usual detection criterion);
* ``iou>=0.7``   the same at 0.7.

    nice python bench/word_boxes.py --pages 6
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FONTS = ("Helvetica", "Times-Roman", "Courier")
WORDS = Path("/usr/share/dict/words")
TOKENS = ("TOTAL", "12.50", "RM", "QTY", "2x", "INVOICE", "No.", "#4471", "15/03/2024", "CASH", "-", "GST", "6%")


def _vocabulary(seed: int) -> list[str]:
    rng = random.Random(seed)
    words = []
    if WORDS.is_file():
        words = [w for w in WORDS.read_text(encoding="utf-8", errors="ignore").split() if w.isascii() and w.isalpha()]
        words = rng.sample(words, min(3000, len(words)))
    return words + list(TOKENS) * 40


def make_pdf(pages: int, seed: int = 0) -> bytes:
    """Pages of random lines of words in the standard fonts (truth comes from the PDF itself)."""
    import pikepdf

    rng = random.Random(seed)
    vocab = _vocabulary(seed)
    pdf = pikepdf.new()
    fonts = {
        f"F{i}": pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font,
                Subtype=pikepdf.Name.Type1,
                BaseFont=pikepdf.Name(f"/{name}"),
                Encoding=pikepdf.Name.WinAnsiEncoding,
            )
        )
        for i, name in enumerate(FONTS)
    }
    for _ in range(pages):
        ops, y = [], 740.0
        while y > 60:
            font = rng.choice(list(fonts))
            size = rng.uniform(9, 16)
            words = " ".join(rng.choice(vocab) for _ in range(rng.randint(2, 7)))
            x = rng.uniform(40, 120)
            escaped = words.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"BT /{font} {size:.1f} Tf {x:.1f} {y:.1f} Td ({escaped}) Tj ET")
            y -= size * rng.uniform(1.8, 2.6)
        pdf.pages.append(
            pikepdf.Page(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Page,
                    MediaBox=[0, 0, 612, 792],
                    Contents=pdf.make_stream("\n".join(ops).encode("latin-1")),
                    Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(**fonts)),
                )
            )
        )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def score(truth: list[list[tuple[float, ...]]], predicted: list[list[tuple[float, ...]]]) -> dict[str, float]:
    """Best-IoU matching per truth word, per page."""
    best = []
    for t_page, p_page in zip(truth, predicted, strict=True):
        for t in t_page:
            best.append(max((iou(t, p) for p in p_page), default=0.0))
    n = max(1, len(best))
    return {
        "words": len(best),
        "mean_iou": round(sum(best) / n, 4),
        "iou>=0.5": round(sum(b >= 0.5 for b in best) / n, 4),
        "iou>=0.7": round(sum(b >= 0.7 for b in best) / n, 4),
    }


def measure(pages: int = 4, seed: int = 0, threads: int = 1) -> dict[str, float]:
    from ocr_server.config import load_config
    from ocr_server.detection import create_detector
    from ocr_server.documents.reader import DocumentReader, ReadOptions
    from ocr_server.pipeline import OcrPipeline
    from ocr_server.recognition.recognizer import load_recognizer

    cfg = load_config(environ={})
    cfg.limits.request_timeout_seconds = 3600
    recognizer = load_recognizer(cfg.model.name, cfg.model.version, cfg.model.models_dir, threads=threads)
    reader = DocumentReader(OcrPipeline(cfg, create_detector(cfg.detection), recognizer), cfg, None)
    data = make_pdf(pages, seed)
    truth_doc = reader.read(data, "pdf", ReadOptions(use_text_layer=True))
    started = time.perf_counter()
    ocr_doc = reader.read(data, "pdf")
    seconds = time.perf_counter() - started
    truth = [[w.box for line in p.lines for w in line.words] for p in truth_doc.pages]
    predicted = [[w.box for line in p.lines for w in line.words] for p in ocr_doc.pages]
    # line-only baseline: each truth word "predicted" by its enclosing OCR line box
    lines = [[line.box for line in p.lines] for p in ocr_doc.pages]
    result = score(truth, predicted)
    result["line_box_mean_iou"] = score(truth, lines)["mean_iou"]
    result["seconds"] = round(seconds, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(measure(args.pages, args.seed, args.threads), indent=1))


if __name__ == "__main__":
    main()
