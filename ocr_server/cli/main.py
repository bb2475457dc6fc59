"""Argument parsing and dispatch for ``ocr-crnn``; the commands live in read.py, serve.py, models.py."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

EXIT_OK = 0
EXIT_FAILED = 1  # some inputs failed; the rest were processed
EXIT_USAGE = 2  # argparse's own code for bad usage; also bad config, unknown model, missing extra

PROG = "ocr-crnn"

EPILOG = """\
exit codes:
  0  everything asked for was done
  1  some input files could not be read (one line each on stderr); the others were
  2  usage or set-up error (bad option, config, model or missing extra): nothing was read

environment:
  OCR_CONFIG        server config file (YAML); `--config` overrides it
  OCR__SECTION__KEY overrides one config field, e.g. OCR__RECOGNITION__DECODER=beam
  OCR_MODELS_DIR    folder of model bundles (default: the repo's models/)
"""


class CliError(Exception):
    """An expected failure that ends the command with one line on stderr and ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _version() -> str:
    try:
        return metadata.version("ocr-crnn")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; also what ``--help`` prints, so every option has its help text."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read text in images with the shipped CRNN model (offline), serve the HTTP API, list models.",
        epilog=EPILOG,
        formatter_class=fmt,
    )
    parser.add_argument("-V", "--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    read = sub.add_parser(
        "read",
        help="read the text in image files, offline (no server)",
        description=(
            "Read the text in image files with the local model, in this process: the pipeline the\n"
            "server runs (decode, preprocess, detect lines, recognize).  PNG, JPEG, BMP, TIFF and WebP,\n"
            "judged by content; `-` reads one image from standard input.  Files that cannot be read\n"
            "are named on stderr, one line each; the others are still read (exit code 1)."
        ),
        epilog=EPILOG,
        formatter_class=fmt,
    )
    read.add_argument("files", nargs="+", metavar="FILE", help="image files; `-` for standard input")
    read.add_argument(
        "-f",
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: the page text (a `==> FILE <==` header before each when there are several);"
        " json: one JSON object per file and line, as the HTTP API answers, plus `file` (default: text)",
    )
    read.add_argument("-m", "--model", metavar="NAME", help="model name (default: the config's, crnn-en)")
    read.add_argument("--version", metavar="V", help="model version (default: the config's, e.g. 1.1.0)")
    read.add_argument(
        "--lines",
        action="store_true",
        help="each file is one pre-cropped text line or word: no detection (like POST /api/v1/recognize)",
    )
    read.add_argument(
        "-c", "--config", metavar="PATH", help="config file (YAML, as for the server; default: $OCR_CONFIG)"
    )
    read.add_argument(
        "--models-dir", metavar="DIR", help="folder of model bundles (default: $OCR_MODELS_DIR or models/)"
    )
    read.add_argument(
        "-t", "--threads", type=int, metavar="N", help="inference threads (default: the config's; 0 = all cores)"
    )

    serve = sub.add_parser(
        "serve",
        help="start the HTTP API and upload page under gunicorn (as `make run`)",
        description=(
            "Start gunicorn with ocr_server/gunicorn.conf.py and ocr_server.wsgi:app, as `make run` does.\n"
            "Options here become OCR__SERVER__* overrides; anything after `--` goes to gunicorn."
        ),
        epilog=EPILOG,
        formatter_class=fmt,
    )
    serve.add_argument("-c", "--config", metavar="PATH", help="config file (YAML; default: $OCR_CONFIG)")
    serve.add_argument("-p", "--port", type=int, metavar="PORT", help="port on 0.0.0.0 (default: the config's, 8080)")
    serve.add_argument("-w", "--workers", type=int, metavar="N", help="gunicorn workers (default: the config's, 1)")
    serve.add_argument("gunicorn_args", nargs=argparse.REMAINDER, help="`-- ARGS`: passed to gunicorn as they are")

    models = sub.add_parser(
        "models",
        help="list the installed model bundles",
        description="List the model bundles found in the models folder; the default one is marked.",
        epilog=EPILOG,
        formatter_class=fmt,
    )
    models.add_argument(
        "-f", "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )
    models.add_argument(
        "--models-dir", metavar="DIR", help="folder of model bundles (default: $OCR_MODELS_DIR or models/)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (the console script passes it to ``sys.exit``)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "read":
            from .read import run_read

            return run_read(args)
        if args.command == "serve":
            from .serve import run_serve

            return run_serve(args)
        from .models import run_models

        return run_models(args)
    except CliError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `ocr-crnn read … | head`: the reader left; not an error of ours
        sys.stderr.close()
        return EXIT_OK
