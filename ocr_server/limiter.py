"""Bounded concurrency per worker: a non-blocking slot counter that sheds load with 429.

Queueing behind a busy model only turns overload into timeouts; answering 429 with
``Retry-After`` at once lets clients and load balancers go elsewhere or back off.

Each slot remembers when it was taken, so the probes can tell *busy* from *wedged*: a slot held
well past the request timeout means work that should have been abandoned is still running
(:meth:`ConcurrencyLimiter.oldest_age`).  Slots are released by whichever thread finishes the
work (see :mod:`ocr_server.offload`), so the counter uses a native lock.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .errors import Overloaded
from .offload import native_lock


class ConcurrencyLimiter:
    """At most ``limit`` holders at a time; a caller that finds none free gets :class:`Overloaded`."""

    def __init__(self, limit: int, retry_after_s: int = 1) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        self._lock = native_lock()
        self._held: dict[int, float] = {}  # ticket -> monotonic time taken
        self._tickets = itertools.count()

    def acquire(self) -> Callable[[], None]:
        """Take a slot now or raise :class:`Overloaded`; returns the (idempotent) release function."""
        with self._lock:
            if len(self._held) >= self.limit:
                raise Overloaded(
                    f"all {self.limit} OCR slots of this worker are busy; retry in {self.retry_after_s} s",
                    retry_after=self.retry_after_s,
                )
            ticket = next(self._tickets)
            self._held[ticket] = time.monotonic()

        def release() -> None:
            with self._lock:
                self._held.pop(ticket, None)

        return release

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block, or raise :class:`Overloaded` immediately."""
        release = self.acquire()
        try:
            yield
        finally:
            release()

    @property
    def busy(self) -> int:
        """Slots held now."""
        with self._lock:
            return len(self._held)

    def ages(self) -> list[float]:
        """Seconds each held slot has been held, oldest first."""
        now = time.monotonic()
        with self._lock:
            return sorted((now - t for t in self._held.values()), reverse=True)

    def oldest_age(self) -> float:
        """Seconds the longest-held slot has been held (0 when none is)."""
        ages = self.ages()
        return ages[0] if ages else 0.0
