"""``ocr-crnn``: the command-line face of the project, for people who use ``tesseract`` or ``rapidocr``.

``ocr-crnn read`` runs the very pipeline the server runs (same config schema, detector, recognizer
and model bundles) in-process, offline; ``ocr-crnn serve`` starts gunicorn exactly as ``make run``
does; ``ocr-crnn models`` lists the installed bundles.

Exit codes (the same for every command):

* 0: everything asked for was done;
* 1: some input files could not be read (each named on stderr, one line each); the others were;
* 2: usage or set-up error: a bad option, configuration, model name or missing extra; nothing was read.

No command prints a traceback for an expected error: one line on stderr, then the exit code.
Arguments are parsed with :mod:`argparse` (no extra dependency); heavy modules (OpenCV, ONNX
Runtime) are imported only by the command that needs them, so ``--help`` and ``models`` are instant.
"""

from __future__ import annotations

from .main import EXIT_FAILED, EXIT_OK, EXIT_USAGE, build_parser, main

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]
