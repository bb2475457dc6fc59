"""Find model bundles on disk: ``<models_dir>/<name>-<version>/`` with ``model.json`` beside the weights.

A bundle is self-describing (``model.json`` holds name, version, input height, charset file and
the weights files), so several versions can sit side by side and be chosen by name/version.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODELS_DIR_ENV = "OCR_MODELS_DIR"
MANIFEST = "model.json"


class ModelNotFoundError(LookupError):
    """The requested model name/version is not installed; the message lists what is."""


@dataclass(frozen=True)
class ModelBundle:
    """Everything needed to load one recognizer version."""

    name: str
    version: str
    path: Path
    input_height: int
    onnx_file: Path
    charset_file: Path
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def full_name(self) -> str:
        return f"{self.name}-{self.version}"


def default_models_dir() -> Path:
    """``$OCR_MODELS_DIR``, else ``models/`` at the repository root (the image copies it to the same place)."""
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "models"


def read_bundle(path: Path) -> ModelBundle:
    """Parse one bundle folder; raises ``ModelNotFoundError`` when it is incomplete."""
    manifest = path / MANIFEST
    if not manifest.is_file():
        raise ModelNotFoundError(f"{path} has no {MANIFEST}")
    meta = json.loads(manifest.read_text(encoding="utf-8"))
    bundle = ModelBundle(
        name=meta["name"],
        version=meta["version"],
        path=path,
        input_height=int(meta["input_height"]),
        onnx_file=path / meta.get("onnx", "model.onnx"),
        charset_file=path / meta.get("charset", "charset.txt"),
        meta=meta,
    )
    for f in (bundle.onnx_file, bundle.charset_file):
        if not f.is_file():
            raise ModelNotFoundError(f"model {bundle.full_name}: missing file {f.name}")
    return bundle


def list_models(models_dir: Path | None = None) -> list[ModelBundle]:
    """All complete bundles in ``models_dir``, sorted by name then version."""
    root = models_dir or default_models_dir()
    out = []
    if root.is_dir():
        for child in sorted(root.iterdir()):
            if (child / MANIFEST).is_file():
                try:
                    out.append(read_bundle(child))
                except (ModelNotFoundError, KeyError, ValueError):
                    continue
    return out


def resolve_model(name: str, version: str, models_dir: Path | str | None = None) -> ModelBundle:
    """The bundle for ``name``/``version``; a clear error naming the installed ones otherwise."""
    root = Path(models_dir) if models_dir else default_models_dir()
    for bundle in list_models(root):
        if bundle.name == name and bundle.version == version:
            return bundle
    have = ", ".join(b.full_name for b in list_models(root)) or "none"
    raise ModelNotFoundError(f"model {name}-{version} not found in {root} (installed: {have})")
