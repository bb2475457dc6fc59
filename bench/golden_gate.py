"""What the start-up reading gate costs: the golden-set check next to the model load it follows.

For each bundle, in this process, with the server's code (``ocr_server.recognition``): opening the
ONNX model plus its warm-up (what every worker already paid before the gate), then
``check_bundle`` (read the golden PNGs, recognise them, score), each ``--repeat`` times; medians of
wall time and of CPU time.  CPU time is the figure to quote on a shared machine: wall time there
mostly measures the other processes (a training run, other tests).

    nice python bench/golden_gate.py [--threads 1] [--repeat 5] [--json golden_gate.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ocr_server.recognition.golden import check_bundle
from ocr_server.recognition.recognizer import Recognizer
from ocr_server.recognition.registry import ModelBundle, default_models_dir, list_models


def _timed(fn) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def measure(bundle: ModelBundle, threads: int, repeat: int) -> dict[str, float | str | int]:
    loads, checks = [], []
    result = None
    for _ in range(repeat):

        def load() -> Recognizer:
            rec = Recognizer(bundle, threads=threads)
            rec.warmup()
            return rec

        wall, cpu, recognizer = _timed(load)
        loads.append((wall, cpu))
        wall, cpu, result = _timed(lambda: check_bundle(recognizer, bundle))  # noqa: B023
        checks.append((wall, cpu))
    assert result is not None
    return {
        "bundle": bundle.full_name,
        "status": result.status,  # type: ignore[attr-defined]
        "lines": result.lines or 0,  # type: ignore[attr-defined]
        "cer": result.cer if result.cer is not None else float("nan"),  # type: ignore[attr-defined]
        "load_wall_s": statistics.median(w for w, _ in loads),
        "load_cpu_s": statistics.median(c for _, c in loads),
        "gate_wall_s": statistics.median(w for w, _ in checks),
        "gate_cpu_s": statistics.median(c for _, c in checks),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1, help="inference threads (a worker's share; default 1)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    rows = [measure(b, args.threads, args.repeat) for b in list_models(default_models_dir())]
    print(f"threads {args.threads}, median of {args.repeat}")
    print("| bundle | gate | lines | CER | load+warm-up wall / CPU s | golden check wall / CPU s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['bundle']} | {r['status']} | {r['lines']} | {r['cer']:.4f} | "
            f"{r['load_wall_s']:.3f} / {r['load_cpu_s']:.3f} | {r['gate_wall_s']:.3f} / {r['gate_cpu_s']:.3f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
