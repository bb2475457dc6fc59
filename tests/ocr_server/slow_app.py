"""A WSGI app for gunicorn whose recognizer takes ``width / 100`` seconds for a wide first crop.

Run by ``test_hardening.py`` as ``gunicorn --pythonpath tests/ocr_server slow_app:app``: the real
worker class, offloading and deadlines, with work that ignores its deadline (it sleeps in native
code's stead), to check that the request is answered anyway, its slot kept until the work ends,
and that the probes tell stuck work from busy work.  Crops narrower than 100 px are read at once.
"""

from __future__ import annotations

import numpy as np
from gevent.monkey import get_original
from server_support import TinyRecognizer

from ocr_server.app import create_app
from ocr_server.config import load_config

_native_sleep = get_original("time", "sleep")  # a real blocking sleep, as CPU-bound native code would be


class SlowRecognizer(TinyRecognizer):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def recognize(self, crops: list[np.ndarray]) -> list:
        self.calls += 1  # the first call is the pipeline's warm-up: never slow
        if self.calls > 1 and crops and crops[0].shape[1] >= 100:
            _native_sleep(crops[0].shape[1] / 100.0)
        return super().recognize(crops)


app = create_app(load_config(), recognizer_loader=lambda *a, **k: SlowRecognizer())
