"""The shipped model reads real receipt lines it never trained on, within a bound it meets today.

A regression in the weights, the export, the crop recipe or the decoder makes this fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from ocr_server.recognition.lines import crop_box
from ocr_server.recognition.recognizer import load_recognizer
from ocr_server.recognition.registry import list_models, resolve_model
from ocr_server.recognition.scoring import cer

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SROIE_DEV = SHARED / "sroie-dev"
# Case-insensitive, whitespace-collapsed CER on the first 150 lines of sroie-dev; the full-set figure
# is in the model card.  Lower it when a better model ships.
CER_BOUND = 0.05  # measured 0.030 for crnn-en-1.0.0 (step 4100)


def _dev_lines(limit: int) -> list[tuple[object, str]]:
    out = []
    for row in (json.loads(x) for x in (SROIE_DEV / "pages.jsonl").read_text().splitlines()):
        page = cv2.imread(str(SROIE_DEV / row["image"]), cv2.IMREAD_COLOR)
        for line in row["lines"]:
            out.append((crop_box(page, tuple(line["box"])), line["text"]))
            if len(out) >= limit:
                return out
    return out


def test_default_model_is_shipped_small_and_versioned() -> None:
    bundle = resolve_model("crnn-en", "1.0.0")
    assert bundle.onnx_file.stat().st_size < 30 * 1024 * 1024
    assert bundle.meta["version"] == "1.0.0" and bundle.meta["training_steps"] > 0
    assert (bundle.path / "MODEL_CARD.md").is_file()
    assert any(b.full_name == "crnn-en-1.0.0" for b in list_models())


@pytest.mark.skipif(not SROIE_DEV.is_dir(), reason="shared/data/sroie-dev is not beside the repo")
def test_shipped_model_reads_dev_receipt_lines() -> None:
    rec = load_recognizer("crnn-en", "1.0.0", threads=2)
    items = _dev_lines(150)
    preds = rec.recognize([c for c, _ in items])  # type: ignore[misc]
    score = cer([(p.text, ref) for p, (_, ref) in zip(preds, items, strict=True)], normalise=True)
    assert score <= CER_BOUND, f"CER {score:.3f} above the bound {CER_BOUND}"
    assert all(0.0 <= p.confidence <= 1.0 for p in preds)
