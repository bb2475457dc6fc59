"""Write ``MODEL_CARD.md`` for a bundle from its ``model.json`` and the evaluation JSON files.

    python -m training.card models/crnn-en-1.1.0 --eval eval.json --runtimes runtimes.json

The figures in the card are copied from what ``training.evaluate`` measured, never typed in.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ocr_server.recognition.charset import Charset

from .fonts import FONT_PACKAGES, HELD_OUT_FAMILIES
from .golden import card_section

# (label, evaluation set, field, bound).  "cer" is case-sensitive, "cer_ci" case-folded with
# whitespace collapsed: case-sensitive wherever the truth has real case (forms, scene words).
TARGETS = [
    ("funsd-val forms CER, case-sensitive <= 9 %", "funsd-val lines (forms)", "cer", 0.09),
    ("iiit5k words CER, case-folded <= 5 %", "iiit5k words", "cer_ci", 0.05),
    ("sroie-dev receipts CER, case-folded <= 1.80 % (1.1.0)", "sroie-dev lines (UPPER)", "cer_ci", 0.018),
    ("unseen fonts CER, case-sensitive <= 1 %", "synthetic, unseen fonts", "cer", 0.01),
    (
        "screenshot-like lines CER, case-sensitive <= 3 % (the real-documents target; a stand-in)",
        "screenshot-like, unseen fonts",
        "cer",
        0.03,
    ),
    ("<= 2 ms/line at batch", "sroie-dev lines (UPPER)", "ms_per_line_batch", 2.0),
]


def render(bundle: Path, evaluation: dict | None, runtimes: dict | None, command: str) -> str:
    meta = json.loads((bundle / "model.json").read_text())
    charset = Charset.from_file(bundle / meta["charset"])
    kw = meta.get("model_kw", {})
    lines = [
        f"# Model card: {meta['name']}-{meta['version']}",
        "",
        "Text-line recognizer for printed documents (receipts, invoices, forms), English/Latin script.",
        "",
        "## Architecture",
        f"- {meta['architecture']}; input: one text line, grayscale, height {meta['input_height']} px, any width",
        f"  (dark text on light; the server inverts light-on-dark crops); one output frame per "
        f"{meta['width_downsample']} input columns.",
        f"- CNN channels {kw.get('channels')}, BiLSTM hidden {kw.get('hidden')} per direction, 2 layers.",
        f"- {meta['parameters']:,} parameters; `model.onnx` {(bundle / meta['onnx']).stat().st_size / 1e6:.1f} MB "
        f"(softmax in the graph, dynamic batch and width, opset 17); ONNX vs torch max |diff| "
        f"{meta.get('onnx_torch_max_abs_diff', 0):.1e}.",
        f"- Charset ({charset.num_classes - 1} characters + CTC blank): printable ASCII and "
        f"`{''.join(c for c in charset.chars if not c.isascii())}`. Case is predicted.",
        "",
        "## Training data",
        "- Synthetic lines rendered on the fly (`training/render.py`) with the fonts of the Debian packages "
        f"{', '.join(FONT_PACKAGES)}; the families {', '.join(sorted(HELD_OUT_FAMILIES))} are held out "
        "for evaluation.",
        "- Text: the `wamerican` word list, receipt vocabulary, and generators for prices, dates, times, codes, "
        "phone numbers, addresses, item lines, symbols and punctuation (`training/text_sources.py`); a quarter "
        "of synthetic lines take their text from sroie-train labels, re-cased (from 1.2.0 an upper-case label "
        "is drawn in Title, Sentence or lower case 70 % of the time, and all-caps synthetic text is about one "
        "line in eight instead of one in three).",
        "- Augmentation: rotation/shear/perspective, Gaussian and motion blur, noise, JPEG, low resolution, "
        "uneven light, paper texture, ink bleed/erosion, table rules and underlines, tight and loose crops, "
        "contrast squash, inversion.",
        "- Office scans and faxes (`training/render.office_scan`, from 1.2.0): document lines shrunk to a text "
        "height of 9-20 px (100 dpi), hard-thresholded with broken or bloated strokes, toner specks and salt "
        'noise, skew, JPEG; drawn in every letter case, so that "looks like a scan" no longer means '
        '"capitals".',
        "- Blank crops (from 1.2.0): paper, gradients, rules, specks and noise labelled with empty text.",
        "- Scene-text words (`training/scene.py`, from the second phase on): single words and short phrases in "
        "sign casing, drawn in colour on solid, gradient, blotchy or cluttered backgrounds, light or dark, "
        "with outlines, drop shadows, two-tone fills and curved baselines, tightly cropped, then converted "
        "to gray and degraded like the rest.",
        "- Real lines: 26,983 line crops of **sroie-train** (ICDAR 2019 SROIE, 500 receipts; 10 % margin); "
        "their labels are upper-case only, so their CTC loss folds upper- and lower-case "
        "probabilities together. Weights trained on SROIE ship here; the images do not.",
        "- Real mixed-case lines (from 1.2.0): **funsd-train** (FUNSD training split, noisy 100 dpi business "
        "forms), 132 forms / 7,210 lines, with their real letter case (case-sensitive loss). 17 forms "
        "(855 lines), chosen by a hash of the file name, are kept out as our validation split `funsd-val`.",
        "- Never trained on: sroie-dev, iiit5k, funsd-val (validation only).",
        "- Checkpoint choice (from 1.2.0): validation every 500 steps on fixed samples of funsd-val "
        "(case-sensitive CER), sroie-dev and iiit5k (case-folded); the shipped weights are the best by the "
        "mean of the three, not simply the last step.",
        f"- Steps: {meta.get('training_steps')} at batch 64, AdamW, warm-up + cosine LR, bfloat16 autocast on CPU.",
    ]
    phases = meta.get("training_phases") or []
    if phases:
        lines += [
            "",
            "| phase | steps | peak LR | sroie-train share | funsd-train share | scene share of synthetic "
            "| screenshot share of synthetic | office-scan share of documents | fonts |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {i} | {p['from_step']}–{p['to_step']} | {p['lr']} | {p['real_share']:.0%} "
            f"| {p.get('forms_share', 0):.0%} | {p['scene_share']:.0%} | {p.get('screen_share', 0):.0%} "
            f"| {p.get('office_share', 0):.0%} "
            f"| {p['fonts']} |"
            for i, p in enumerate(phases, 1)
        ]
    lines.append("")
    if evaluation:
        lines += [
            "## Measured (ONNX Runtime, the served path)",
            "",
            f"`{command}`",
            "",
            "CER is case-sensitive; (ci) is case-folded with whitespace collapsed. sroie-dev's truth is "
            "upper-case only, so only its (ci) figure means anything.",
            "",
            "| set | lines | CER (case-sensitive) | CER (ci) | line acc. | line acc. (ci) "
            "| ms/line batch | ms/line single |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, r in evaluation.items():
            lines.append(
                f"| {name} | {r['lines']} | {r['cer']:.2%} | {r['cer_ci']:.2%} | {r['line_acc']:.2%} | "
                f"{r['line_acc_ci']:.2%} | {r['ms_per_line_batch']:.2f} | {r['ms_per_line_single']:.2f} |"
            )
        lines.append("")
    if runtimes:
        lines += [
            "## Runtime comparison (network only on prepared sroie-dev crops, same weights, default threads)",
            "",
            "| runtime | ms/line at batch 32 | ms/line single |",
            "|---|---|---|",
        ]
        for name, r in runtimes.items():
            lines.append(f"| {name} | {r['ms_per_line_batch32']:.2f} | {r['ms_per_line_single']:.2f} |")
        fastest = min(runtimes, key=lambda k: runtimes[k]["ms_per_line_batch32"])
        lines += [
            "",
            f"The server uses ONNX Runtime (fastest here: {fastest}; and it keeps torch out of the image).",
            "",
        ]
    if evaluation:
        lines += ["## Against the targets", "", "| target | measured | met |", "|---|---|---|"]
        for label, key, field, limit in TARGETS:
            if key in evaluation:
                value = evaluation[key][field]
                shown = f"{value:.2%}" if field.startswith("cer") else f"{value:.2f} ms"
                lines.append(f"| {label} | {shown} | {'yes' if value <= limit else '**no**'} |")
        lines.append("")
    if meta.get("golden"):
        lines += card_section(meta["golden"])
    lines += [
        "## Limits",
        "- Single text lines only: full pages need the server's line detector first.",
        "- Latin script; no handwriting; forms at 100 dpi remain the hardest documents. Scene text is learnt "
        "from synthetic scene-style words only (no real "
        "photographs in training); curved, vertical or heavily stylised text is read poorly.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--eval", type=Path)
    ap.add_argument("--runtimes", type=Path)
    ap.add_argument("--command", help="the evaluation command to quote (default: training.evaluate of this bundle)")
    args = ap.parse_args(argv)
    ev = json.loads(args.eval.read_text()) if args.eval else None
    rt = json.loads(args.runtimes.read_text()) if args.runtimes else None
    if not args.command:
        meta = json.loads((args.bundle / "model.json").read_text())
        args.command = f"python -m training.evaluate --model {meta['name']} --version {meta['version']}"
    (args.bundle / "MODEL_CARD.md").write_text(render(args.bundle, ev, rt, args.command))
    print(f"wrote {args.bundle / 'MODEL_CARD.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
