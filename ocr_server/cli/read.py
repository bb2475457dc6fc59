"""``ocr-crnn read``: the server's pipeline, in-process, over files; one line on stderr per bad file."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

from .main import EXIT_FAILED, EXIT_OK, CliError

# A local tool reads what the user points it at: no upload-size limit (the server's 5 MiB guards a
# network service).  The pixel limit of the config still applies: it bounds memory per image.
NO_BYTE_LIMIT = 1 << 62


@dataclass(frozen=True)
class Input:
    """One named input; ``name`` is what messages and the JSON ``file`` field show."""

    name: str
    data: bytes


def _load_inputs(files: list[str]) -> tuple[list[Input], list[str]]:
    """Read every file up front: problems with paths surface before the model loads."""
    inputs: list[Input] = []
    errors: list[str] = []
    stdin_used = False
    for name in files:
        if name == "-":
            if stdin_used:
                errors.append("-: standard input can be read only once")
                continue
            stdin_used = True
            inputs.append(Input("-", sys.stdin.buffer.read()))
            continue
        try:
            with open(name, "rb") as fh:
                inputs.append(Input(name, fh.read()))
        except IsADirectoryError:
            errors.append(f"{name}: is a directory")
        except OSError as err:
            errors.append(f"{name}: {err.strerror or err}")
    return inputs, errors


def _pipeline(args: argparse.Namespace) -> Any:
    """The configured :class:`~ocr_server.pipeline.OcrPipeline`; :class:`CliError` (exit 2) when it cannot be built."""
    try:
        from ocr_server.config import ConfigError, load_config
        from ocr_server.cpus import threads_per_worker
        from ocr_server.detection import create_detector
        from ocr_server.pipeline import OcrPipeline
        from ocr_server.recognition.recognizer import load_recognizer
        from ocr_server.recognition.registry import ModelNotFoundError
    except ImportError as err:  # a checkout installed without the server extra
        raise CliError(
            f"reading needs the server extra ({err.name} is missing): pip install 'ocr-crnn[server]'"
        ) from None
    try:
        cfg = load_config(args.config)
    except ConfigError as err:
        raise CliError(str(err)) from None
    model = cfg.model.model_copy(
        update={
            "name": args.model or cfg.model.name,
            "version": args.version or cfg.model.version,
            "models_dir": args.models_dir or cfg.model.models_dir,
        }
    )
    cfg = cfg.model_copy(update={"model": model})
    configured = cfg.recognition.threads if args.threads is None else args.threads
    if configured < 0:
        raise CliError(f"--threads must be 0 or more, not {configured}")
    threads = threads_per_worker(configured, 1)
    import cv2

    cv2.setNumThreads(threads)
    rec = cfg.recognition
    try:
        recognizer = load_recognizer(
            model.name,
            model.version,
            model.models_dir,
            threads=threads,
            **rec.recognizer_options(),
        )
    except ModelNotFoundError as err:
        raise CliError(f"{err} (see `ocr-crnn models`)") from None
    return OcrPipeline(cfg, create_detector(cfg.detection, recognizer.info.language), recognizer)


def _read_one(pipeline: Any, item: Input, lines_mode: bool) -> dict[str, Any]:
    """The API's JSON for one input (plus ``file``); raises OcrError for unreadable images."""
    from ocr_server.uploads import check_image_bytes

    check_image_bytes(item.data, "the file", NO_BYTE_LIMIT)  # the line already starts with its name
    info = pipeline.recognizer.info
    model = {"name": info.name, "version": info.version}
    if lines_mode:
        (line,) = pipeline.read_lines([item.data]).results
        return {
            "file": item.name,
            "text": line.text,
            "confidence": line.confidence,
            "model": model,
        }
    page = pipeline.read_page(item.data)
    return {
        "file": item.name,
        "text": page.text,
        "lines": [{"text": ln.text, "confidence": ln.confidence, "box": list(ln.box)} for ln in page.lines],
        "image": {"width": page.width, "height": page.height},
        "model": model,
        "timings_ms": page.timings_ms,
    }


def run_read(args: argparse.Namespace) -> int:
    """Read every file; print results to stdout in order, failures to stderr; 0, 1 or 2 (see the package doc)."""
    from .main import PROG

    inputs, errors = _load_inputs(list(args.files))
    for message in errors:
        print(f"{PROG}: {message}", file=sys.stderr)
    if not inputs:
        return EXIT_FAILED
    pipeline = _pipeline(args)

    from ocr_server.errors import OcrError

    several = len(args.files) > 1
    printed = 0
    for item in inputs:
        try:
            result = _read_one(pipeline, item, args.lines)
        except OcrError as err:
            errors.append(item.name)
            print(f"{PROG}: {item.name}: {err.message}", file=sys.stderr)
            continue
        except Exception as err:  # never a traceback: an unexpected failure is still one line per file
            errors.append(item.name)
            print(f"{PROG}: {item.name}: unexpected error: {type(err).__name__}: {err}", file=sys.stderr)
            continue
        if args.format == "json":
            print(json.dumps(result, ensure_ascii=False))
        else:
            if several:
                print(("\n" if printed else "") + f"==> {item.name} <==")
            print(result["text"])
        printed += 1
        sys.stdout.flush()
    return EXIT_FAILED if errors else EXIT_OK
