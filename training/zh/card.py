"""``MODEL_CARD.md`` for a ``crnn-zh`` bundle, written by ``training.export --profile zh``.

Facts come from the bundle (``model.json``, ``charset.txt``, ``model.onnx``), from the code that
made the data (faces, held-out families, corpus sizes, the generator mix) and, for the figures,
from the JSON ``training.evaluate --profile zh --json`` wrote: nothing is typed in.

    python -m training.zh.card models/crnn-zh-1.0.0 --eval eval-zh.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ocr_server.recognition.charset import Charset

from ..golden import card_section
from .charset import FULLWIDTH, gb2312_hanzi
from .corpus import SPLIT_BUCKETS, fortunes, jieba_words, sentence_lines
from .evaluation import INVOICES, SCENE, SCREEN, SENTENCES
from .fonts import FONT_PACKAGES_ZH, HELD_OUT_FAMILIES, MIN_HANZI_COVERAGE, split_faces
from .generators import MIX
from .stream import MIN_SCALE, OFFICE_TEXT_HEIGHT, SCENE_CHARS, SCREEN_SIZES, ZhMix

TARGET_CER_NORM = 0.03
TARGET_MS = 5.0
MAX_ONNX_MB = 30.0


def _faces_line(faces: list) -> str:
    fams: dict[str, list[str]] = {}
    for f in faces:
        fams.setdefault(f.family, []).append(f.name)
    return "; ".join(f"**{k}** ({', '.join(v)})" for k, v in sorted(fams.items()))


def _quantization_lines(quant: dict | None) -> list[str]:
    if not quant:
        return []
    return [
        f"- Weights of the {' and '.join(quant['ops'])} nodes stored as int8 ({quant['method']}; "
        "`training.export --quantize`): the 6,944-class output layer is about half of a line's CPU time. "
        f"Largest probability difference from the float graph on random lines {quant['max_abs_diff_vs_float']:.3f}; "
        "the figures below are the quantized model's."
    ]


def _peer_section(bench: dict) -> list[str]:
    """The same held-out lines read by ours and RapidOCR in one run (``bench/zh_recognition.py --json``)."""
    rows = bench.get("rows", [])
    lines = [
        "## Side by side with RapidOCR (same lines, same run)",
        "",
        "`python bench/zh_recognition.py --version VERSION --json ...` (in `.venv-bench`), "
        f"{bench.get('threads', '?')} threads per engine:",
        "",
    ]
    lines += [f"- {engine}: {text}" for engine, text in bench.get("settings", {}).items()]
    lines += [
        "",
        "| engine | set | lines | CER strict | CER normalised | ms/line batch | ms/line single |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['engine']} | {r['set']} | {r['lines']} | {r['cer']:.2%} | {r['cer_norm']:.2%} | "
        f"{r['ms_per_line_batch']:.2f} | {r['ms_per_line_single']:.2f} |"
        for r in rows
    ]
    return [*lines, ""]


def peer_target(bench: dict) -> str | None:
    """The target row "normalised CER at most RapidOCR's on the same held-out sentences", or None."""
    by = {(r["engine"], r["set"]): r["cer_norm"] for r in bench.get("rows", [])}
    ours, peer = by.get(("ours", SENTENCES)), by.get(("rapidocr", SENTENCES))
    if ours is None or peer is None:
        return None
    met = "yes" if ours <= peer else "**no**"
    return f"| held-out-font lines, CER normalised <= RapidOCR's ({peer:.2%}) | {ours:.2%} | {met} |"


def proxy_targets(bench: dict) -> list[str]:
    """Rows for the stand-ins of the held-out real screenshots and photos (target: within 1.5x of
    RapidOCR's CER): our rendered screenshot and photo-like sets, same lines, same run."""
    by = {(r["engine"], r["set"]): r["cer_norm"] for r in bench.get("rows", [])}
    rows = []
    for name in (SCREEN, SCENE):
        ours, peer = by.get(("ours", name)), by.get(("rapidocr", name))
        if ours is not None and peer is not None:
            met = "yes" if ours <= 1.5 * peer else "**no**"
            rows.append(
                f"| {name} (stand-in for real ones), CER normalised <= 1.5x RapidOCR's ({1.5 * peer:.2%}) "
                f"| {ours:.2%} | {met} |"
            )
    return rows


def render(bundle: Path, evaluation: dict | None, bench: dict | None = None) -> str:
    meta = json.loads((bundle / "model.json").read_text())
    charset = Charset.from_file(bundle / meta["charset"])
    hanzi = set(gb2312_hanzi())
    n_hanzi = sum(c in hanzi for c in charset.chars)
    onnx_mb = (bundle / meta["onnx"]).stat().st_size / 1e6
    kw = meta.get("model_kw", {})
    train_faces, held_faces = split_faces()
    words, _ = jieba_words()
    trained = meta.get("training", {})
    mix = ZhMix(
        office_share=trained.get("office_share", ZhMix.office_share),
        blank_share=trained.get("blank_share", ZhMix.blank_share),
        latin_font_share=trained.get("latin_font_share", ZhMix.latin_font_share),
        scene_share=trained.get("scene_share", ZhMix.scene_share),
        screen_share=trained.get("screen_share", ZhMix.screen_share),
    )
    recipe = ", ".join(f"{w:.0%} {name}" for w, name in MIX)
    lines = [
        f"# Model card: {meta['name']}-{meta['version']}",
        "",
        "Text-line recognizer for printed simplified Chinese documents (invoices, receipts, forms, screenshots) "
        "mixed with Latin letters and digits. Horizontal lines only.",
        "",
        "## Architecture",
        f"- {meta['architecture']}; input: one text line, grayscale, height {meta['input_height']} px, any width; "
        f"one output frame per {meta['width_downsample']} input columns.",
        f"- CNN channels {kw.get('channels')}, BiLSTM hidden {kw.get('hidden')} per direction, 2 layers, "
        f"linear classifier over {meta['num_classes']} classes (CTC blank included).",
        f"- {meta['parameters']:,} parameters; `model.onnx` {onnx_mb:.1f} MB (target < {MAX_ONNX_MB:.0f} MB; "
        f"softmax in the graph, dynamic batch and width, opset 17); ONNX vs torch max |diff| "
        f"{meta.get('onnx_torch_max_abs_diff', 0):.1e} (float graph).",
        *_quantization_lines(meta.get("quantization")),
        "",
        "## Charset",
        f"- {len(charset.chars)} characters (`charset.txt`, one per line, `<space>` for the space): the "
        f"{n_hanzi:,} hanzi of GB 2312 levels 1 and 2 (derived from the codec: every double-byte code of rows "
        "16-87), printable ASCII, the English symbols `€£¥°±×÷•“”‘’–—©®™§¢µ` and the Chinese punctuation and "
        f"symbols `{FULLWIDTH}`.",
        "- Full-width Latin letters, digits and the other full-width ASCII forms are read as their ASCII "
        "characters (labels folded by NFKC); ，；：？！（）￥ stay full-width.",
        "",
        "## Training data (all synthetic, rendered on the fly: `training/zh/`)",
        f"- Fonts: Debian packages {', '.join(FONT_PACKAGES_ZH)}. Faces used only when they cover at least "
        f"{MIN_HANZI_COVERAGE:.0%} of the GB 2312 hanzi (the cwTeX faces, traditional Chinese, do not). "
        f"Training faces: {_faces_line(train_faces)}.",
        f"- **Held out** (never in training; the evaluation draws only these): families "
        f"{', '.join(sorted(HELD_OUT_FAMILIES))}: {_faces_line(held_faces)}.",
        f"- Text: {len(fortunes()):,} fortunes of Debian's `fortunes-zh` (Debian texts, Tang and Song poems), "
        f"cut into clause-packed lines; one in {SPLIT_BUCKETS} fortunes (by SHA-1 of its text) is held out for "
        f"evaluation ({len(sentence_lines('test')):,} lines) and one for validation "
        f"({len(sentence_lines('val')):,} lines); training reads {len(sentence_lines('train')):,} lines. "
        f"Word phrases sampled from `jieba`'s dictionary ({len(words):,} words in the charset) by "
        "frequency^0.5. Generators: invoice fields (发票代码/号码, 纳税人识别号 of 18 characters, amounts "
        "¥1,234.56, 价税合计 in capital numerals, tax rates, dates 2026年11月30日, bank accounts), goods rows, "
        "receipt lines, addresses with 省/市/区/路/号, phone numbers, mixed Chinese/Latin/digit lines, symbol "
        "lines, and hanzi drawn uniformly from all 6,763 so level-2 characters are learnt. "
        f"Mix (`training/zh/generators.py`): {recipe}.",
        "- Rendering: the line's height is the face's em box (reference glyph 国) united with the ink, so digits "
        "and low signs keep their size; a quarter of lines are cropped tight to the ink; one in five "
        "letter-spaced. Sizes 24-48 px.",
        f"- Degradations (`training/render.py`): {mix.office_share:.0%} office scan / fax (shrunk to "
        f"{OFFICE_TEXT_HEIGHT[0]}-{OFFICE_TEXT_HEIGHT[1]} px lines, thresholded, specks), the rest blur, noise, "
        f"JPEG, rotation/perspective, light, texture, ink bleed, rules at strength {mix.augment_strength} "
        f"(low resolution no smaller than {MIN_SCALE:.0%}); {mix.blank_share:.0%} blank crops.",
        f"- Styles that are not paper (from phase 3, `training/zh/stream.py`): {mix.screen_share:.0%} screenshot "
        f"lines drawn natively at {SCREEN_SIZES[0]}-{SCREEN_SIZES[1]} px (hinted, anti-aliased, either polarity, "
        f"sometimes JPEG'd, nothing else) and {mix.scene_share:.0%} photo-like signs and labels: "
        f"{SCENE_CHARS[0]}-{SCENE_CHARS[1]} character pieces drawn by the English scene renderer "
        "(`training/scene.py`: coloured, textured or cluttered backgrounds, outlines, shadows, curved "
        "baselines) in the CJK faces, then mildly degraded.",
        *(
            [
                f"- Latin in western fonts (from phase 5): {mix.latin_font_share:.0%} of the lines that hold ASCII "
                "draw their Latin runs (letters, digits, ASCII punctuation) in a font of the English training pool, "
                "as Chinese documents set English words and numbers in a western face; the English held-out "
                "families stay out."
            ]
            if mix.latin_font_share
            else []
        ),
        "- No real Chinese images were trained on.",
        f"- Steps: {meta.get('training_steps')} at batch {trained.get('batch_size', '?')}, peak LR "
        f"{trained.get('lr', '?')}, AdamW, warm-up + cosine LR, "
        f"{'bfloat16 autocast' if trained.get('bf16', True) else 'float32 (no bfloat16: that CPU lacked AVX512-BF16)'} "
        "on CPU; "
        f"`best.pt` chosen by the normalised CER on {trained.get('val_lines', 300)} validation lines (held-out "
        "faces, validation sentences).",
        *[
            f"  - phase {i}: steps {p['from_step']:,}-{p['to_step']:,}, peak LR {p['lr']}"
            + (f"; {p['note']}" if p.get("note") else "")
            for i, p in enumerate(meta.get("training_phases") or [], 1)
        ],
        "",
    ]
    if evaluation:
        lines += [
            "## Measured (ONNX Runtime, the served path)",
            "",
            f"`python -m training.evaluate --profile zh --model {meta['name']} --version {meta['version']}`",
            "",
            "CER strict compares character for character; normalised folds full-width to half-width (NFKC), "
            "。、“”‘’《》【】·— to ASCII look-alikes, case, and removes whitespace (`training/zh/scoring.py`).",
            "",
            *_reread_note(evaluation),
            "| set | lines | CER strict | CER normalised | line acc. | line acc. (norm.) | ms/line batch "
            "| ms/line single |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, r in evaluation.items():
            lines.append(
                f"| {name} | {r['lines']} | {r['cer']:.2%} | {r['cer_norm']:.2%} | {r['line_acc']:.2%} | "
                f"{r['line_acc_norm']:.2%} | {r['ms_per_line_batch']:.2f} | {r['ms_per_line_single']:.2f} |"
            )
        lines += ["", "## Against the targets", "", "| target | measured | met |", "|---|---|---|"]
        if SENTENCES in evaluation:
            v = evaluation[SENTENCES]["cer_norm"]
            lines.append(
                f"| held-out-font lines, CER normalised <= {TARGET_CER_NORM:.0%} | {v:.2%} "
                f"| {'yes' if v <= TARGET_CER_NORM else '**no**'} |"
            )
            ms = evaluation[SENTENCES]["ms_per_line_batch"]
            lines.append(f"| <= 5 ms/line batched | {ms:.2f} ms | {'yes' if ms <= TARGET_MS else '**no**'} |")
        if INVOICES in evaluation:
            v = evaluation[INVOICES]["cer_norm"]
            lines.append(f"| invoice fields, CER normalised (no bound) | {v:.2%} | - |")
        if bench and (row := peer_target(bench)):
            lines.append(row)
        if bench:
            lines += proxy_targets(bench)
        lines.append(f"| ONNX < 30 MB | {onnx_mb:.1f} MB | {'yes' if onnx_mb < MAX_ONNX_MB else '**no**'} |")
        lines.append("")
    if bench:
        lines += _peer_section(bench)
    if meta.get("golden"):
        lines += card_section(meta["golden"])
    lines += [
        "## Limits",
        "- Single horizontal text lines: full pages need the server's line detector; vertical text is not read.",
        "- Simplified Chinese of GB 2312 only: traditional characters and rarer hanzi outside GB 2312 "
        "(names, places) cannot be emitted.",
        "- Trained on synthetic lines only: the photo-like signs and the screenshots are rendered too, so real "
        "camera photos (perspective, glare, motion), handwriting and stylised display faces remain at the edge "
        "of its experience.",
        "",
    ]
    return "\n".join(lines)


def write_card(bundle: Path, evaluation: dict | None = None, bench: dict | None = None) -> Path:
    path = bundle / "MODEL_CARD.md"
    path.write_text(render(bundle, evaluation, bench), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--eval", type=Path, help="training.evaluate --profile zh --json output")
    ap.add_argument("--bench", type=Path, help="bench/zh_recognition.py --json output (ours and RapidOCR)")
    args = ap.parse_args(argv)
    evaluation = json.loads(args.eval.read_text()) if args.eval else None
    bench = json.loads(args.bench.read_text()) if args.bench else None
    print(f"wrote {write_card(args.bundle, evaluation, bench)}")
    return 0


def _reread_note(evaluation: dict[str, dict[str, Any]]) -> list[str]:
    """How the figures were read: as the server reads, with unsure lines read again, or the network alone."""
    below = {r.get("reread_below") for r in evaluation.values()}
    if below == {None}:
        return []
    if below == {0.0} or below == {0}:
        return ["The network alone: no line read again (`--reread-below 0`).", ""]
    value = max(b for b in below if b is not None)
    return [
        f"Read as the server reads: a line read with a mean confidence under {value} (`recognition.rereadBelow`) "
        "is read again at 0.8x and 1.25x its width and the surest reading kept (`ocr_server/recognition/reread.py`).",
        "",
    ]


if __name__ == "__main__":
    sys.exit(main())
