"""The reading gate's library: every shipped bundle passes its own golden set; a bundle whose set
is tampered with, unreadable or compared against corrupted texts fails with a reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ocr_server.recognition.golden import GoldenResult, GoldenSpec, check_bundle, misread
from ocr_server.recognition.recognizer import Recognizer
from ocr_server.recognition.registry import default_models_dir, list_models, read_bundle

SHIPPED = [b for b in list_models(default_models_dir()) if b.name == "crnn-en"]


def copy_bundle(src: Path, dst: Path) -> Path:
    """A copy of a bundle whose model.onnx is a link (the weights are never changed here)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("model.onnx"))
    (dst / "model.onnx").symlink_to(src / "model.onnx")
    return dst


@pytest.fixture(scope="module")
def default_bundle_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SHIPPED:
        pytest.skip("no crnn-en bundle in models/")
    return copy_bundle(SHIPPED[-1].path, tmp_path_factory.mktemp("models") / SHIPPED[-1].path.name)


def test_every_shipped_bundle_carries_a_golden_set() -> None:
    assert {b.version for b in SHIPPED} >= {"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0"}
    for bundle in SHIPPED:
        spec = GoldenSpec.from_meta(bundle.meta)
        assert spec is not None, bundle.full_name
        assert spec.max_cer >= spec.cer + 0.02 and spec.lines >= 24
        size = sum(f.stat().st_size for f in (bundle.path / "golden").iterdir())
        assert size < 300 * 1024, f"{bundle.full_name}: golden set is {size} bytes"


@pytest.mark.parametrize("bundle", SHIPPED, ids=[b.full_name for b in SHIPPED])
@pytest.mark.parametrize("threads", [1, 2])
def test_shipped_bundles_pass_their_golden_set(bundle, threads: int) -> None:  # type: ignore[no-untyped-def]
    result = check_bundle(Recognizer(bundle, threads=threads), bundle)
    spec = GoldenSpec.from_meta(bundle.meta)
    assert spec is not None
    assert result.status == "passed" and result.passed, result
    assert result.lines == spec.lines and result.max_cer == spec.max_cer
    # the server measures what the maker measured (same images, same code), up to float noise
    assert result.cer == pytest.approx(spec.cer, abs=0.003)


def test_corrupted_expected_texts_fail_like_a_misreading_model() -> None:
    bundle = SHIPPED[-1]
    result = check_bundle(Recognizer(bundle, threads=1), bundle, corrupt_expected=True)
    assert result.status == "failed" and not result.passed
    assert result.cer is not None and result.cer > 0.5
    assert "above the bound" in (result.reason or "") and "golden=fail" in (result.reason or "")


def test_tampered_golden_texts_fail(default_bundle_copy: Path, tmp_path: Path) -> None:
    bundle_dir = copy_bundle(default_bundle_copy, tmp_path / default_bundle_copy.name)
    manifest = bundle_dir / "golden" / "golden.jsonl"
    rows = [json.loads(x) for x in manifest.read_text().splitlines()]
    for row in rows[::2]:  # half the lines now claim other text
        row["text"] = "Lorem ipsum dolor sit amet 0000"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    bundle = read_bundle(bundle_dir)
    result = check_bundle(Recognizer(bundle, threads=1), bundle)
    assert result.status == "failed"
    assert result.cer is not None and result.max_cer is not None and result.cer > result.max_cer
    assert result.lines == len(rows)
    assert str(tmp_path) not in (result.reason or "")


def test_a_bundle_without_golden_set_passes_as_absent(default_bundle_copy: Path, tmp_path: Path) -> None:
    bundle_dir = copy_bundle(default_bundle_copy, tmp_path / default_bundle_copy.name)
    meta = json.loads((bundle_dir / "model.json").read_text())
    del meta["golden"]
    (bundle_dir / "model.json").write_text(json.dumps(meta))
    bundle = read_bundle(bundle_dir)
    recognizer = Recognizer(bundle, threads=1)
    assert check_bundle(recognizer, bundle).to_json() == {"passed": True, "status": "absent"}
    assert check_bundle(recognizer, None).to_json() == {"passed": True, "status": "absent"}
    forced = check_bundle(recognizer, bundle, corrupt_expected=True)
    assert forced.status == "failed" and "golden=fail" in (forced.reason or "")


def _break_missing_image(folder: Path) -> None:
    (folder / "golden" / "03.png").unlink()


def _break_count(folder: Path) -> None:
    manifest = folder / "golden" / "golden.jsonl"
    manifest.write_text("\n".join(manifest.read_text().splitlines()[:-1]) + "\n")


def _break_json(folder: Path) -> None:
    (folder / "golden" / "golden.jsonl").write_text("{not json\n")


def _break_escape(folder: Path) -> None:
    manifest = folder / "golden" / "golden.jsonl"
    rows = [json.loads(x) for x in manifest.read_text().splitlines()]
    rows[0]["image"] = "../model.json"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def _break_meta(folder: Path) -> None:
    meta = json.loads((folder / "model.json").read_text())
    meta["golden"] = {"file": "golden/golden.jsonl"}
    (folder / "model.json").write_text(json.dumps(meta))


BREAKAGES = {
    "missing image": (_break_missing_image, "03.png is missing"),
    "line count": (_break_count, "model.json says"),
    "not json": (_break_json, "not JSON lines"),
    "path outside": (_break_escape, "must be a file beside it"),
    "malformed entry": (_break_meta, "golden entry is malformed"),
}


@pytest.mark.parametrize("case", list(BREAKAGES))
def test_an_unreadable_golden_set_fails_with_a_reason(case: str, default_bundle_copy: Path, tmp_path: Path) -> None:
    bundle_dir = copy_bundle(default_bundle_copy, tmp_path / default_bundle_copy.name)
    breaker, expected = BREAKAGES[case]
    breaker(bundle_dir)
    bundle = read_bundle(bundle_dir)
    result = check_bundle(Recognizer(bundle, threads=1), bundle)
    assert result == GoldenResult("failed", reason=result.reason)
    assert (result.reason or "").startswith("golden set unreadable:") and expected in (result.reason or "")
    assert str(tmp_path) not in (result.reason or "")  # shown by /api/v1/info: no server paths


def test_misread_changes_every_printable_character_and_nothing_else() -> None:
    text = "Total: 12.50 RM, ok? €"
    garbled = misread(text)
    assert len(garbled) == len(text) and garbled != text
    assert all((a == b) == (a in " €") for a, b in zip(text, garbled, strict=True))
    assert misread(garbled) == text  # ROT47 is its own inverse: deterministic


def test_result_json_carries_only_what_is_known() -> None:
    failed = GoldenResult("failed", 0.4, 0.02, 28, "the model reads badly", 0.1)
    assert failed.to_json() == {
        "passed": False,
        "status": "failed",
        "cer": 0.4,
        "max_cer": 0.02,
        "lines": 28,
        "reason": "the model reads badly",
        "seconds": 0.1,
    }


def test_several_models_are_judged_together() -> None:
    """With model.additional, the worker is ready only when every model passes; the reason names
    the one that failed."""
    from ocr_server.service import judge

    ok = GoldenResult("passed", 0.002, 0.022, 28)
    absent = GoldenResult("absent")
    bad = GoldenResult("failed", 0.5, 0.02, 28, "the model reads badly")
    assert judge([("crnn-en-1.2.0", ok), ("crnn-zh-1.0.0", absent)]) == ok
    assert judge([("crnn-en-1.2.0", bad)]) == bad
    verdict = judge([("crnn-en-1.2.0", ok), ("crnn-zh-1.0.0", bad)])
    assert not verdict.passed and verdict.reason == "model crnn-zh-1.0.0: the model reads badly"
