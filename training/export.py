"""Export a training checkpoint to a served model bundle ``models/<name>-<version>/``.

Writes ``model.onnx`` (served by ONNX Runtime), optionally ``model.ts`` (TorchScript, for
comparison), ``charset.txt`` and ``model.json`` (the manifest the server's registry reads),
checks that ONNX Runtime and torch agree on a few inputs before declaring success (``--quantize``
then rewrites the graph with int8 MatMul/LSTM weights and records the difference), and makes the
bundle's golden set (``training.golden``: the lines the server must read back at start-up) from the
profile of the bundle's language (``--golden-profile``, default the checkpoint's profile; a new
language adds its own profile).

    python -m training.export --checkpoint runs/crnn/last.pt --name crnn-en --version 1.2.0
    python -m training.export --profile zh --checkpoint runs/crnn-zh/best.pt --version 1.0.0 [--eval eval.json]

The network's input height and frames-per-pixel come from the checkpoint (``model_kw``), the
charset from its profile (``--profile``, which must match the checkpoint's).  A zh bundle also gets
its ``MODEL_CARD.md`` (``training/zh/card.py``), with the measured figures when ``--eval`` names the
JSON that ``training.evaluate --profile zh --json`` wrote.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ocr_server.recognition.charset import Charset

from .golden import PROFILES as GOLDEN_PROFILES
from .golden import GoldenSource, make_golden
from .model import CRNN, CRNNWithSoftmax
from .profiles import PROFILES, get_profile

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


def load_checkpoint(path: Path, charset: Charset) -> tuple[CRNN, dict[str, Any]]:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = CRNN(charset.num_classes, **ck.get("model_kw", {}))
    model.load_state_dict(ck["model"])
    model.eval()
    return model, ck


def export_onnx(model: CRNN, path: Path) -> None:
    """Dynamic batch and width; softmax inside the graph; opset 17."""
    wrapped = CRNNWithSoftmax(model).eval()
    dummy = torch.zeros(2, 1, model.input_height, 128)
    torch.onnx.export(
        wrapped,
        (dummy,),
        str(path),
        input_names=["image"],
        output_names=["probs"],
        dynamic_axes={"image": {0: "batch", 3: "width"}, "probs": {0: "batch", 1: "frames"}},
        opset_version=17,
        dynamo=False,
    )


def export_torchscript(model: CRNN, path: Path) -> None:
    traced = torch.jit.trace(CRNNWithSoftmax(model).eval(), torch.zeros(1, 1, model.input_height, 128))
    traced.save(str(path))


def check_parity(model: CRNN, onnx_path: Path, atol: float = 1e-4) -> float:
    """Largest absolute difference between torch and ONNX Runtime probabilities on random inputs."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    wrapped = CRNNWithSoftmax(model).eval()
    worst = 0.0
    rng = np.random.default_rng(0)
    for n, w in ((1, 64), (3, 200), (5, 517)):
        x = rng.uniform(-1, 1, size=(n, 1, model.input_height, w)).astype(np.float32)
        with torch.no_grad():
            ref = wrapped(torch.from_numpy(x)).numpy()
        got = sess.run(None, {"image": x})[0]
        worst = max(worst, float(np.abs(ref - got).max()))
    if worst > atol:
        raise RuntimeError(f"ONNX export differs from torch by {worst:.2e} (> {atol})")
    return worst


QUANTIZED_OPS = ("MatMul", "LSTM")


def quantize_weights(onnx_path: Path, probe_height: int) -> float:
    """Rewrite ``onnx_path`` with int8 weights for its MatMul and LSTM nodes (ONNX Runtime's dynamic
    quantization: activations quantized per batch at run time, convolutions left in float).

    Why: a 6,944-class output layer makes the last MatMul about half of a Chinese line's CPU time;
    int8 GEMMs took ``crnn-zh`` from 5.7 to 4.6 ms/line (2 threads) at an unchanged held-out CER
    (5.79 % normalised on 400 lines, both ways) and the file from 14.7 to 7.0 MB.  Returns the
    largest probability difference against the float graph on random lines (recorded, not bounded:
    the CER and the golden set are what judge the result)."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    float_path = onnx_path.with_suffix(".float.onnx")
    onnx_path.replace(float_path)
    try:
        quantize_dynamic(
            str(float_path), str(onnx_path), op_types_to_quantize=list(QUANTIZED_OPS), weight_type=QuantType.QInt8
        )
        ref = ort.InferenceSession(str(float_path), providers=["CPUExecutionProvider"])
        got = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        x = rng.uniform(-1, 1, size=(3, 1, probe_height, 256)).astype(np.float32)
        return float(np.abs(ref.run(None, {"image": x})[0] - got.run(None, {"image": x})[0]).max())
    finally:
        float_path.unlink(missing_ok=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_bundle(
    checkpoint: Path,
    name: str,
    version: str,
    out_root: Path = MODELS_DIR,
    charset_file: Path | None = None,
    torchscript: bool = False,
    extra_meta: dict[str, Any] | None = None,
    profile: str | None = None,
    golden_source: GoldenSource | None = None,
    quantize: bool = False,
) -> Path:
    """Export ``checkpoint`` into ``<out_root>/<name>-<version>/``; ``profile`` (default: the
    checkpoint's own) gives the charset unless ``charset_file`` is named; a profile that is not the
    checkpoint's is refused.  Then make its golden set from ``golden_source`` (default: the golden
    profile of the checkpoint's language)."""
    ck_profile = torch.load(checkpoint, map_location="cpu", weights_only=False).get("profile", "en")
    if profile is not None and profile != ck_profile:
        raise ValueError(f"{checkpoint} was trained with profile {ck_profile!r}, not {profile!r}")
    prof = get_profile(ck_profile)
    charset = Charset.from_file(charset_file) if charset_file else prof.charset()
    model, ck = load_checkpoint(checkpoint, charset)
    out = out_root / f"{name}-{version}"
    out.mkdir(parents=True, exist_ok=True)
    charset.to_file(out / "charset.txt")
    export_onnx(model, out / "model.onnx")
    if torchscript:
        export_torchscript(model, out / "model.ts")
    diff = check_parity(model, out / "model.onnx")
    quant_diff = quantize_weights(out / "model.onnx", model.input_height) if quantize else None
    meta_path = out / "model.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    meta.pop("quantization", None)
    if quant_diff is not None:
        meta["quantization"] = {
            "method": "onnxruntime dynamic, int8 weights",
            "ops": list(QUANTIZED_OPS),
            "max_abs_diff_vs_float": quant_diff,
        }
    meta.update(
        {
            "name": name,
            "version": version,
            "architecture": "CRNN (VGG-style CNN + 2x BiLSTM + linear, CTC)",
            "input_height": model.input_height,
            "width_downsample": model.width_downsample,
            "onnx": "model.onnx",
            "charset": "charset.txt",
            "num_classes": charset.num_classes,
            "parameters": sum(p.numel() for p in model.parameters()),
            "model_kw": ck.get("model_kw", {}),
            "profile": prof.name,
            "language": prof.language,
            "training_steps": int(ck.get("step", 0)),
            "onnx_sha256": sha256(out / "model.onnx"),
            "onnx_torch_max_abs_diff": diff,
        }
    )
    if prof.name != "en":  # the trainer options the card reports (English model.json files stay as they were)
        args = ck.get("args") or {}
        keys = (
            "batch_size",
            "lr",
            "total_steps",
            "office_share",
            "blank_share",
            "latin_font_share",
            "scene_share",
            "screen_share",
            "val_lines",
            "bf16",
        )
        meta["training"] = {k: args[k] for k in keys if k in args}
    meta.update(extra_meta or {})
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    make_golden(out, golden_source or GOLDEN_PROFILES[prof.name]())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--profile", choices=sorted(PROFILES), help="must match the checkpoint's (default: its own)")
    ap.add_argument("--name", help="bundle name (default: the profile's, crnn-en or crnn-zh)")
    ap.add_argument("--version", required=True, help="e.g. 1.2.0 (no default: never overwrite a shipped bundle)")
    ap.add_argument("--out", type=Path, default=MODELS_DIR)
    ap.add_argument("--torchscript", action="store_true", help="also write model.ts (for latency comparison)")
    ap.add_argument("--meta", type=Path, help="JSON merged into model.json (e.g. training_phases for the card)")
    ap.add_argument("--eval", type=Path, help="zh: training.evaluate --json output, for the model card's figures")
    ap.add_argument(
        "--quantize",
        action="store_true",
        help="int8 weights for MatMul/LSTM (ONNX Runtime dynamic quantization; make export does it for zh)",
    )
    ap.add_argument(
        "--golden-profile",
        choices=sorted(GOLDEN_PROFILES),
        help="texts and fonts of the golden set (default: --profile)",
    )
    args = ap.parse_args(argv)
    extra = json.loads(args.meta.read_text()) if args.meta else None
    ck_profile = torch.load(args.checkpoint, map_location="cpu", weights_only=False).get("profile", "en")
    profile = get_profile(args.profile or ck_profile)
    name = args.name or profile.model_name
    try:
        out = write_bundle(
            args.checkpoint,
            name,
            args.version,
            args.out,
            torchscript=args.torchscript,
            extra_meta=extra,
            profile=profile.name,
            golden_source=GOLDEN_PROFILES[args.golden_profile or profile.name](),
            quantize=args.quantize,
        )
    except ValueError as err:
        ap.error(str(err))
    print(f"wrote {out}")
    if profile.name == "zh":
        from .zh.card import write_card

        evaluation = json.loads(args.eval.read_text()) if args.eval else None
        print(f"wrote {write_card(out, evaluation)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
