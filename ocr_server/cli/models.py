"""``ocr-crnn models``: the bundles a ``read`` or the server could load, the default one marked."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ocr_server.config import DEFAULT_MODEL_NAME, DEFAULT_MODEL_VERSION
from ocr_server.recognition.registry import default_models_dir, list_models

from .main import EXIT_OK, CliError


def run_models(args: argparse.Namespace) -> int:
    """Print one bundle a line (or a JSON list); exit 2 when the folder does not exist."""
    root = Path(args.models_dir) if args.models_dir else default_models_dir()
    if not root.is_dir():
        raise CliError(f"models folder {root} does not exist (set --models-dir or $OCR_MODELS_DIR)")
    bundles = list_models(root)
    rows = [
        {
            "name": b.name,
            "version": b.version,
            "default": (b.name, b.version) == (DEFAULT_MODEL_NAME, DEFAULT_MODEL_VERSION),
            "path": str(b.path),
            "onnx_bytes": b.onnx_file.stat().st_size,
            "input_height": b.input_height,
            "training_steps": b.meta.get("training_steps"),
        }
        for b in bundles
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print(f"no model bundles in {root}")
        return EXIT_OK
    width = max(len(f"{r['name']}-{r['version']}") for r in rows)
    for r in rows:
        mark = "*" if r["default"] else " "
        size = f"{r['onnx_bytes'] / 1e6:.1f} MB"
        print(f"{mark} {r['name'] + '-' + r['version']:<{width}}  {size:>8}  {r['path']}")
    print("(* the default: model.name/model.version in the config)")
    return EXIT_OK
