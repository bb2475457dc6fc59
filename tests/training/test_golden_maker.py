"""The golden-set maker: deterministic output, the bound formula, model.json and the model card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ocr_server.recognition.registry import default_models_dir, list_models
from tests.needs import missing
from training import golden
from training.fonts import split_fonts

SHIPPED = [b for b in list_models(default_models_dir()) if b.name == "crnn-en"]


@pytest.fixture(scope="module")
def source() -> golden.GoldenSource:
    """The English profile; needs the held-out font families (skips without them, fails under CI)."""
    if not split_fonts()[1]:
        missing("no held-out fonts installed: `make setup-apt` (requirements/apt.txt)")
    return golden.english_source()


@pytest.mark.parametrize(
    ("measured", "bound"),
    [
        (0.0, 0.02),  # a perfect reading still gets 2 points of slack
        (0.0023, 0.0223),  # small CERs: measured + 0.02
        (0.02, 0.04),  # where the two terms meet
        (0.05, 0.1),  # larger CERs: twice the measured
        (0.00231, 0.0224),  # rounded up, never down
    ],
)
def test_bound_is_twice_or_two_points_above_measured(measured: float, bound: float) -> None:
    assert golden.golden_bound(measured) == pytest.approx(bound, abs=1e-9)
    assert golden.golden_bound(measured) >= max(2 * measured, measured + 0.02)


def test_rendering_is_deterministic(source: golden.GoldenSource, tmp_path: Path) -> None:
    first, second = golden.render_set(source), golden.render_set(source)
    assert [t for _, t in first] == [line.text for line in source.lines]
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, second, strict=True))
    other = golden.render_set(source, seed=golden.DEFAULT_SEED + 1)
    assert not all(a.shape == b.shape and np.array_equal(a, b) for (a, _), (b, _) in zip(first, other, strict=True))
    # written twice, byte for byte the same files
    golden.write_set(tmp_path / "a", first)
    golden.write_set(tmp_path / "b", second)
    for f in sorted((tmp_path / "a" / "golden").iterdir()):
        assert f.read_bytes() == (tmp_path / "b" / "golden" / f.name).read_bytes(), f.name


def test_english_profile_has_the_styles_and_uses_held_out_fonts(source: golden.GoldenSource) -> None:
    assert 24 <= len(source.lines) <= 32
    assert {line.style for line in source.lines} == {"document", "receipt", "digits", "mixed"}
    assert any(line.worn for line in source.lines) and not all(line.worn for line in source.lines)
    texts = [line.text for line in source.lines]
    assert any(t.isupper() for t in texts) and any(t.islower() for t in texts)
    assert len(set(texts)) == len(texts)
    held = {f.path for f in split_fonts()[1]}
    assert set(source.fonts) | set(source.mono_fonts) <= held


def test_committed_golden_sets_hold_the_profile_texts() -> None:
    """The sets in models/ were made from ENGLISH_LINES (rendering is checked by the server's gate)."""
    assert SHIPPED
    for bundle in SHIPPED:
        entry = bundle.meta["golden"]
        rows = [json.loads(x) for x in (bundle.path / entry["file"]).read_text().splitlines()]
        assert [r["text"] for r in rows] == [line.text for line in golden.ENGLISH_LINES]
        assert entry["lines"] == len(rows) and entry["max_cer"] == golden.golden_bound(entry["cer"])
        card = (bundle.path / "MODEL_CARD.md").read_text()
        assert card.count(golden.CARD_HEADING) == 1 and f"{entry['max_cer']:.2%}" in card


def test_make_golden_records_the_measure_and_the_bound(source: golden.GoldenSource, tmp_path: Path) -> None:
    shipped = SHIPPED[-1]
    bundle = tmp_path / shipped.path.name
    shutil.copytree(shipped.path, bundle, ignore=shutil.ignore_patterns("model.onnx", "golden"))
    (bundle / "model.onnx").symlink_to(shipped.path / "model.onnx")
    entry = golden.make_golden(bundle, source)
    again = golden.make_golden(bundle, source)  # idempotent: same entry, one card section
    assert entry == again
    meta = json.loads((bundle / "model.json").read_text())
    assert meta["golden"] == entry
    assert entry["file"] == "golden/golden.jsonl" and entry["lines"] == len(source.lines)
    assert entry["max_cer"] == golden.golden_bound(entry["cer"])
    assert entry["cer"] <= shipped.meta["golden"]["max_cer"]  # the shipped model reads it well
    card = (bundle / "MODEL_CARD.md").read_text()
    assert card.count(golden.CARD_HEADING) == 1
    assert card.index(golden.CARD_HEADING) < card.index("## Limits")


def test_update_card_replaces_or_inserts_the_section(tmp_path: Path) -> None:
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# Model card\n\n## Measured\n- x\n\n## Limits\n- y\n")
    entry = {"file": "golden/golden.jsonl", "lines": 3, "cer": 0.01, "max_cer": 0.03}
    golden.update_card(card, golden.card_section(entry))
    golden.update_card(card, golden.card_section({**entry, "cer": 0.0, "max_cer": 0.02}))
    text = card.read_text()
    assert text.count(golden.CARD_HEADING) == 1 and "2.00%" in text and "3.00%" not in text
    assert text.index("## Measured") < text.index(golden.CARD_HEADING) < text.index("## Limits")
    assert text.endswith("## Limits\n- y\n")
