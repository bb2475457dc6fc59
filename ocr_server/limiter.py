"""Bounded concurrency per worker: a non-blocking semaphore that sheds load with 429.

Queueing behind a busy model only turns overload into timeouts; answering 429 with
``Retry-After`` at once lets clients and load balancers go elsewhere or back off.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import Overloaded


class ConcurrencyLimiter:
    """At most ``limit`` holders at a time; a caller that finds none free gets :class:`Overloaded`."""

    def __init__(self, limit: int, retry_after_s: int = 1) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        self._sem = threading.BoundedSemaphore(limit)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block, or raise :class:`Overloaded` immediately."""
        if not self._sem.acquire(blocking=False):
            raise Overloaded(
                f"all {self.limit} OCR slots of this worker are busy; retry in {self.retry_after_s} s",
                retry_after=self.retry_after_s,
            )
        try:
            yield
        finally:
            self._sem.release()
