"""A worker-wide budget of a resource that in-flight requests reserve before they use it.

Two budgets bound a worker's memory whatever the requests carry: decoded pixels (the
decoded images of every in-flight request together) and buffered upload bytes (bodies being
received or held).  A request that does not fit is shed at once with 429, like a busy OCR slot,
instead of pushing the pod into its memory limit, where the OOM killer would take every
in-flight request with it.  Reservations are released by whichever thread ends the work, so the
counter uses a native lock.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import Overloaded
from .offload import native_lock


class Budget:
    """``limit`` units (pixels, bytes) shared by the worker's in-flight requests."""

    def __init__(self, limit: int, unit: str, retry_after_s: int = 1) -> None:
        self.limit = limit
        self.unit = unit
        self.retry_after_s = retry_after_s
        self._lock = native_lock()
        self._used = 0

    @property
    def used(self) -> int:
        with self._lock:
            return self._used

    def reserve(self, amount: int) -> Callable[[], None]:
        """Reserve ``amount`` or raise :class:`Overloaded`; returns the idempotent release function.

        A single request larger than the whole budget is the caller's to refuse (413) before
        reserving: here it would only ever be shed."""
        amount = max(0, int(amount))
        self.take(amount)
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
            self.give(amount)

        return release

    def take(self, amount: int) -> None:
        """Add ``amount`` to the used total, or raise :class:`Overloaded` when it does not fit."""
        with self._lock:
            if self._used + amount > self.limit:
                raise Overloaded(
                    f"this worker is busy with other large requests ({self.unit}); retry in {self.retry_after_s} s",
                    retry_after=self.retry_after_s,
                )
            self._used += amount

    def give(self, amount: int) -> None:
        """Return ``amount`` taken earlier."""
        with self._lock:
            self._used = max(0, self._used - amount)
