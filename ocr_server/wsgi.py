"""WSGI entry point: ``gunicorn -c ocr_server/gunicorn.conf.py ocr_server.wsgi:app``.

Also works with ``flask --app ocr_server.wsgi run``; a bad configuration stops the process with
one readable line instead of a traceback.
"""

from __future__ import annotations

import sys

from .app import create_app
from .config import ConfigError

try:
    app = create_app()
except ConfigError as err:
    print(f"ocr-server: {err}", file=sys.stderr)
    sys.exit(2)
