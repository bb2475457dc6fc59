"""``python -m ocr_server.cli``: the same as the ``ocr-crnn`` script."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
