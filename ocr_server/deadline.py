"""A request's time budget, checked cooperatively wherever the work can stop cheaply.

CPU-bound work in a native thread cannot be killed from outside, so the work itself asks
"am I late?" at points that come often enough: between pipeline stages, between the images of a
``/recognize`` call, and on every block the image decoders read (see
:func:`ocr_server.imaging.decode.decode_image`).  The request's caller may also give up waiting
(:mod:`ocr_server.offload`) and call :meth:`Deadline.cancel`, so the work stops at its next check
instead of running on for nobody.

Standard library only: the pipeline imports this.
"""

from __future__ import annotations

import time

from .errors import RequestTimedOut


class Deadline:
    """``seconds`` from now (monotonic clock); :meth:`check` raises :class:`RequestTimedOut` once past it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires_at = time.monotonic() + seconds
        self._cancelled = False

    def remaining(self) -> float:
        """Seconds left (negative once expired)."""
        return self.expires_at - time.monotonic()

    def cancel(self) -> None:
        """Make the next :meth:`check` fail, whatever the clock says (the caller stopped waiting)."""
        self._cancelled = True

    @property
    def expired(self) -> bool:
        return self._cancelled or time.monotonic() >= self.expires_at

    def check(self) -> None:
        """Raise :class:`RequestTimedOut` when the budget is spent or the request was abandoned."""
        if self.expired:
            raise RequestTimedOut(f"the request took longer than {self.seconds:g} s and was abandoned")


NO_DEADLINE = Deadline(float("inf"))
