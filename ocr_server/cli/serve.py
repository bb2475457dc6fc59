"""``ocr-crnn serve``: gunicorn with the project's config file, exactly as ``make run`` starts it."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from .main import CliError

GUNICORN_CONF = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"
WSGI_APP = "ocr_server.wsgi:app"


def gunicorn_argv(extra: list[str]) -> list[str]:
    """The command ``make run`` runs, with ``extra`` gunicorn arguments appended."""
    if extra and extra[0] == "--":
        extra = extra[1:]
    return [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), WSGI_APP, *extra]


def serve_env(args: argparse.Namespace, environ: dict[str, str]) -> dict[str, str]:
    """The environment gunicorn.conf.py reads: ``OCR_CONFIG`` and ``OCR__SERVER__*`` overrides."""
    env = dict(environ)
    if args.config:
        env["OCR_CONFIG"] = str(Path(args.config).resolve())
    if args.port is not None:
        env["OCR__SERVER__PORT"] = str(args.port)
    if args.workers is not None:
        env["OCR__SERVER__WORKERS"] = str(args.workers)
    return env


def run_serve(args: argparse.Namespace) -> int:
    """Replace this process with gunicorn (signals and exit code are then gunicorn's own)."""
    if importlib.util.find_spec("gunicorn") is None:
        raise CliError("serving needs the server extra (gunicorn is missing): pip install 'ocr-crnn[server]'")
    if args.config and not Path(args.config).is_file():
        raise CliError(f"config file {args.config} does not exist")
    argv = gunicorn_argv(list(args.gunicorn_args))
    sys.stdout.flush()
    os.execve(argv[0], argv, serve_env(args, dict(os.environ)))
    return 0  # not reached
