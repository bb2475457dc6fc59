"""The per-worker semaphore sheds at once instead of queueing."""

from __future__ import annotations

import time

import pytest

from ocr_server.errors import Overloaded
from ocr_server.limiter import ConcurrencyLimiter


def test_sheds_when_full_and_recovers() -> None:
    limiter = ConcurrencyLimiter(2, retry_after_s=3)
    with limiter.slot(), limiter.slot():
        start = time.perf_counter()
        with pytest.raises(Overloaded) as err, limiter.slot():
            pass
        assert time.perf_counter() - start < 0.05  # immediate, no waiting
        assert err.value.status == 429 and err.value.retry_after == 3
    with limiter.slot():  # both slots came back
        pass


def test_slot_is_released_when_the_work_fails() -> None:
    limiter = ConcurrencyLimiter(1)
    with pytest.raises(ValueError), limiter.slot():
        raise ValueError("pipeline failed")
    with limiter.slot():
        pass
