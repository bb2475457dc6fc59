"""Model bundles are found by name and version; a missing one names what is installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocr_server.recognition.registry import ModelNotFoundError, list_models, resolve_model


def make_bundle(root: Path, name: str, version: str) -> Path:
    d = root / f"{name}-{version}"
    d.mkdir(parents=True)
    (d / "model.onnx").write_bytes(b"x")
    (d / "charset.txt").write_text("a\n")
    (d / "model.json").write_text(json.dumps({"name": name, "version": version, "input_height": 32}))
    return d


def test_resolve_and_list(tmp_path: Path) -> None:
    make_bundle(tmp_path, "crnn-en", "1.0.0")
    make_bundle(tmp_path, "crnn-en", "1.1.0")
    (tmp_path / "junk").mkdir()
    assert [b.version for b in list_models(tmp_path)] == ["1.0.0", "1.1.0"]
    b = resolve_model("crnn-en", "1.1.0", tmp_path)
    assert b.full_name == "crnn-en-1.1.0" and b.input_height == 32


def test_missing_model_lists_installed(tmp_path: Path) -> None:
    make_bundle(tmp_path, "crnn-en", "1.0.0")
    with pytest.raises(ModelNotFoundError, match=r"crnn-en-9.9.9 not found .*installed: crnn-en-1.0.0"):
        resolve_model("crnn-en", "9.9.9", tmp_path)


def test_incomplete_bundle_is_skipped(tmp_path: Path) -> None:
    d = make_bundle(tmp_path, "crnn-en", "1.0.0")
    (d / "model.onnx").unlink()
    assert list_models(tmp_path) == []
