"""Full-page OCR latency and accuracy on sroie-dev: our server vs RapidOCR vs Tesseract, same run.

For every page, each engine reads the stored JPEG file (its bytes, or its path) and returns page
text; we time that call end to end and score the text against the ground-truth lines joined in
reading order.  Engines run page by page in turn, so a load spike on this shared machine hits them
alike.

* ``ours-http``    POST /api/v1/ocr (raw JPEG body) to a real gunicorn with ONE worker on 127.0.0.1.
* ``ours-inproc``  ``ocr_server.pipeline.OcrPipeline.read_page`` in this process (no HTTP).
* ``rapidocr``     rapidocr_onnxruntime 1.4.4 with its shipped PP-OCRv4 det+cls+rec models, defaults.
* ``tesseract``    Debian's tesseract CLI, ``-l eng --psm 3`` (automatic layout), one process per page.

Every engine gets the same thread budget (``--threads``, default 2): ONNX Runtime intra-op threads
for ours and RapidOCR, ``OMP_NUM_THREADS`` everywhere.  Tesseract is the exception, by default
``OMP_THREAD_LIMIT=1`` (``--tesseract-threads``): its OpenMP threads spin-wait, and on this 2-core
machine shared with other work one page took 5-47 s with 2 threads against 0.4-0.6 s with 1, so 1
is Tesseract at its best here (its documentation recommends it for throughput too).

CER: edit distance / reference length over the whole split; ``cer`` is case-insensitive with
whitespace collapsed (SROIE's truth is upper case and oddly spaced); ``cer_cs`` case-sensitive with
whitespace collapsed (letter case counts, where a row is cut into lines does not); ``cer_raw`` is
as-is (a line break where the truth cut the row elsewhere counts as an error).

    nice python bench/page_latency.py --pages 10
    nice python bench/page_latency.py --json page_latency.json          # all 63 pages
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    CerCounter,
    Page,
    Stopwatch,
    format_table,
    latency_summary,
    load_pages,
    thread_env,
    write_json,
)

ENGINES = ("ours-http", "ours-inproc", "rapidocr", "tesseract")


@dataclass
class Engine:
    """A named page reader: ``read(path, data) -> text``; ``close`` releases what ``read`` needs."""

    name: str
    settings: str
    read: Callable[[Path, bytes], str]
    close: Callable[[], None] = lambda: None
    stage_ms: dict[str, list[float]] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ engines


def ours_http(threads: int, stack: list[Any]) -> Engine:
    """Our server through its public API; the server's own stage timings are collected too."""
    from bench.server import running_server

    ctx = running_server(workers=1, threads=threads)
    url = ctx.__enter__()
    stack.append(ctx)
    engine = Engine("ours-http", f"gunicorn 1 worker, {threads} inference threads, {url}", read=lambda p, d: "")

    def read(_path: Path, data: bytes) -> str:
        req = urllib.request.Request(
            f"{url}/api/v1/ocr", data=data, method="POST", headers={"Content-Type": "image/jpeg"}
        )
        with urllib.request.urlopen(req, timeout=120) as resp:
            body = json.loads(resp.read())
        for stage, ms in body.get("timings_ms", {}).items():
            engine.stage_ms.setdefault(stage, []).append(float(ms))
        return str(body["text"])

    engine.read = read
    return engine


def ours_inproc(
    threads: int, model: tuple[str, str] | None = None, models_dir: str | None = None, tuning: Any = None
) -> Engine:
    """The same pipeline object the server builds, called directly; ``model`` ``(name, version)``
    overrides the config's default bundle (the Chinese page benchmark reads with ``crnn-zh``), and
    ``tuning`` the detector's shape constants (``bench/reading_order.py`` turns the column rule off)."""
    import cv2

    from ocr_server.config import load_config
    from ocr_server.detection import create_detector
    from ocr_server.pipeline import OcrPipeline
    from ocr_server.recognition.recognizer import load_recognizer

    cv2.setNumThreads(threads)
    cfg = load_config()
    rec = cfg.recognition
    name, version = model or (cfg.model.name, cfg.model.version)
    recognizer = load_recognizer(
        name, version, models_dir or cfg.model.models_dir, threads=threads, **rec.recognizer_options()
    )
    detector = create_detector(cfg.detection, recognizer.info.language)
    if tuning is not None:
        detector.tuning = tuning  # type: ignore[attr-defined]
    pipeline = OcrPipeline(cfg, detector, recognizer)
    pipeline.warmup()
    engine = Engine("ours-inproc", f"{name}-{version}, {threads} threads, in process", read=lambda p, d: "")

    def read(_path: Path, data: bytes) -> str:
        result = pipeline.read_page(data)
        for stage, ms in result.timings_ms.items():
            engine.stage_ms.setdefault(stage, []).append(float(ms))
        return result.text

    engine.read = read
    return engine


def rapidocr(threads: int) -> Engine:
    """RapidOCR with its shipped models and default settings, only the thread counts pinned."""
    from rapidocr_onnxruntime import RapidOCR

    ocr = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)

    def read(path: Path, _data: bytes) -> str:
        result, _ = ocr(str(path))
        return "\n".join(str(r[1]) for r in result or [])  # RapidOCR returns lines in reading order

    return Engine("rapidocr", f"rapidocr_onnxruntime 1.4.4 (PP-OCRv4 det+cls+rec), {threads} threads", read)


def tesseract_version() -> str:
    out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=True)
    return (out.stdout or out.stderr).splitlines()[0]


def tesseract(threads: int) -> Engine:
    """The Tesseract CLI on the file, automatic page segmentation, its own text order."""
    env = dict(os.environ) | thread_env(threads)

    def read(path: Path, _data: bytes) -> str:
        out = subprocess.run(
            ["tesseract", str(path), "stdout", "-l", "eng", "--psm", "3"],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        return out.stdout

    return Engine("tesseract", f"{tesseract_version()} CLI -l eng --psm 3, OMP_THREAD_LIMIT={threads}", read)


def build_engines(names: list[str], threads: int, tesseract_threads: int, stack: list[Any]) -> list[Engine]:
    """Start the requested engines (each warmed up by the caller's first page)."""
    factories: dict[str, Callable[[], Engine]] = {
        "ours-http": lambda: ours_http(threads, stack),
        "ours-inproc": lambda: ours_inproc(threads),
        "rapidocr": lambda: rapidocr(threads),
        "tesseract": lambda: tesseract(tesseract_threads),
    }
    engines = []
    for name in names:
        try:
            engines.append(factories[name]())
        except Exception as err:  # an engine that cannot start is reported, the others still run
            print(f"skipping {name}: {type(err).__name__}: {err}", file=sys.stderr)
    return engines


# ------------------------------------------------------------------------------------------ run


@dataclass
class EngineResult:
    seconds: list[float] = field(default_factory=list)
    cer: CerCounter = field(default_factory=CerCounter)
    failures: int = 0


def run(engines: list[Engine], pages: list[Page], warmup: int = 1) -> dict[str, EngineResult]:
    """Each page through each engine in turn; the first ``warmup`` pages are read once more, untimed,
    before their timed read (lazy initialisation, first-call allocations)."""
    results = {e.name: EngineResult() for e in engines}
    for i, page in enumerate(pages):
        data = page.image_path.read_bytes()
        for engine in engines:
            if i < warmup:
                engine.read(page.image_path, data)
                engine.stage_ms.clear()
        for engine in engines:
            res = results[engine.name]
            try:
                with Stopwatch() as sw:
                    text = engine.read(page.image_path, data)
            except Exception as err:
                print(f"{engine.name} failed on {page.name}: {err}", file=sys.stderr)
                res.failures += 1
                text = ""
            else:
                res.seconds.append(sw.seconds)
            res.cer.add(text, page.text)
        if sys.stderr.isatty():  # progress only for a person watching, not in captured logs
            print(f"  page {i + 1}/{len(pages)} {page.name}", file=sys.stderr, end="\r")
    if sys.stderr.isatty():
        print(file=sys.stderr)
    return results


def summarize(engines: list[Engine], results: dict[str, EngineResult]) -> list[dict[str, Any]]:
    rows = []
    for engine in engines:
        res = results[engine.name]
        lat = latency_summary(res.seconds)
        rows.append(
            {
                "engine": engine.name,
                "settings": engine.settings,
                "pages": lat["n"],
                "failures": res.failures,
                "p50_ms": lat["p50_ms"],
                "p95_ms": lat["p95_ms"],
                "mean_ms": lat["mean_ms"],
                "pages_per_s": lat["per_s"],
                "cer": res.cer.cer_norm,
                "cer_cs": res.cer.cer_cs,
                "cer_raw": res.cer.cer,
                "stage_ms_mean": {k: sum(v) / len(v) for k, v in engine.stage_ms.items() if v},
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="sroie-dev")
    ap.add_argument("--pages", type=int, default=None, help="evenly subsample this many pages (default: all)")
    ap.add_argument("--threads", type=int, default=2, help="threads per engine (default 2)")
    ap.add_argument("--tesseract-threads", type=int, default=1, help="OMP_THREAD_LIMIT for Tesseract (default 1)")
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated subset of {','.join(ENGINES)}")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args(argv)

    os.environ.update(thread_env(args.threads))  # before numpy/ONNX Runtime/OpenCV start their pools
    pages = load_pages(args.split, args.pages)
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    unknown = set(names) - set(ENGINES)
    if unknown:
        ap.error(f"unknown engines: {', '.join(sorted(unknown))}")
    stack: list[Any] = []
    try:
        engines = build_engines(names, args.threads, args.tesseract_threads, stack)
        results = run(engines, pages)
    finally:
        for ctx in reversed(stack):
            ctx.__exit__(None, None, None)
    rows = summarize(engines, results)

    print(
        f"split={args.split} pages={len(pages)} threads/engine={args.threads} cores={os.cpu_count()} "
        "(each engine read page 1 once, untimed, to warm up)"
    )
    for r in rows:
        print(f"  {r['engine']:<12} {r['settings']}")
    print(format_table(
        [[r["engine"], r["pages"], r["p50_ms"], r["p95_ms"], r["pages_per_s"], r["cer"], r["cer_cs"], r["cer_raw"],
          r["failures"]] for r in rows],
        ["engine", "pages", "p50 ms", "p95 ms", "pages/s", "CER", "CER case-sens.", "CER raw", "failed"],
    ))  # fmt: skip
    for r in rows:
        if r["stage_ms_mean"]:
            stages = ", ".join(f"{k} {v:.0f}" for k, v in r["stage_ms_mean"].items())
            print(f"  {r['engine']} server-side mean ms: {stages}")
    if args.json:
        write_json(args.json, {"split": args.split, "pages": len(pages), "threads": args.threads, "engines": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
