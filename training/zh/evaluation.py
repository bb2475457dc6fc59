"""Scoring a recognizer on the Chinese evaluation lines (``make evaluate MODEL=crnn-zh``).

Torch-free: it scores whatever ``recognize(crops) -> texts`` it is handed, so the benchmark can
run the same sets through RapidOCR too.  CER strict and normalised: ``training/zh/scoring.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ocr_server.recognition.scoring import line_accuracy

from .evalset import heldout_lines, invoice_lines, scene_lines, screen_lines
from .scoring import cer_normalised, cer_strict, normalise

SENTENCES = "zh sentences, unseen fonts"
INVOICES = "zh invoice fields, unseen fonts"
SCREEN = "zh screen text 12-16 px, unseen fonts"
SCENE = "zh signs/labels (photo-like), unseen fonts"


def eval_sets(limit: int | None = None) -> dict[str, list[tuple[np.ndarray, str]]]:
    """The fixed sets: 1,000 held-out sentence lines, 300 invoice/receipt lines, 300 screenshot-like
    lines and 300 photo-like sign pieces (held-out faces)."""
    return {
        SENTENCES: heldout_lines("test", limit or 1000),
        INVOICES: invoice_lines(limit or 300),
        SCREEN: screen_lines(limit or 300),
        SCENE: scene_lines(limit or 300),
    }


RULE_ROW_CHARS = frozenset("—-–─_=*·.… ")
KINDS = ("with Latin", "Chinese only", "separator rows")


def line_kind(truth: str) -> str:
    """Which part of a set a line's truth belongs to, for the breakdown: a row of dashes or dots
    only (a rule typed as text), a line holding ASCII letters, or Chinese (with digits, punctuation)."""
    if set(truth) <= RULE_ROW_CHARS:
        return "separator rows"
    return "with Latin" if any(c.isascii() and c.isalpha() for c in truth) else "Chinese only"


def breakdown(pairs: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Normalised CER and line count per :data:`KINDS` (only the kinds present): where a set's
    errors come from, e.g. the Latin words inside Chinese sentences."""
    out = {}
    for kind in KINDS:
        part = [(p, r) for p, r in pairs if line_kind(r) == kind]
        if part:
            out[kind] = {"lines": len(part), "cer_norm": cer_normalised(part)}
    return out


def score_texts(preds: list[str], items: list[tuple[np.ndarray, str]]) -> dict:
    pairs = list(zip(preds, [t for _, t in items], strict=True))
    return {
        "lines": len(items),
        "cer": cer_strict(pairs),
        "cer_norm": cer_normalised(pairs),
        "line_acc": line_accuracy(pairs),
        "line_acc_norm": sum(normalise(p) == normalise(r) for p, r in pairs) / max(1, len(pairs)),
        "by_kind": breakdown(pairs),
    }


def score(
    recognize: Callable[[list[np.ndarray]], list[str]], items: list[tuple[np.ndarray, str]], single_n: int = 100
) -> dict:
    """CER figures plus ms/line handing all crops in one call (batched) and one crop a call."""
    crops = [im for im, _ in items]
    t = time.perf_counter()
    preds = recognize(crops)
    batch_ms = (time.perf_counter() - t) * 1000 / max(1, len(crops))
    t = time.perf_counter()
    for im in crops[:single_n]:
        recognize([im])
    single_ms = (time.perf_counter() - t) * 1000 / max(1, min(single_n, len(crops)))
    return {**score_texts(preds, items), "ms_per_line_batch": batch_ms, "ms_per_line_single": single_ms}


def table(results: dict[str, dict]) -> str:
    head = (
        f"{'set':<44}{'lines':>7}{'CER':>8}{'CER norm':>10}{'line acc':>10}{'acc norm':>10}"
        f"{'ms/line b':>11}{'ms/line 1':>11}"
    )
    rows = [head, "-" * len(head)]
    for name, r in results.items():
        rows.append(
            f"{name:<44}{r['lines']:>7}{r['cer']:>8.2%}{r['cer_norm']:>10.2%}{r['line_acc']:>10.2%}"
            f"{r['line_acc_norm']:>10.2%}{r['ms_per_line_batch']:>11.2f}{r['ms_per_line_single']:>11.2f}"
        )
        kinds = r.get("by_kind") or {}
        if len(kinds) > 1:
            rows.append(
                "    normalised CER by kind: "
                + "; ".join(f"{k} {v['cer_norm']:.2%} ({v['lines']} lines)" for k, v in kinds.items())
            )
    return "\n".join(rows)
