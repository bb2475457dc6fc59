"""Notices an operator that sees events but never handles them, so its liveness probe can say so.

Why it is needed: kopf hands an event to the handlers only after every watched kind in every served
namespace has been listed once (its index gate).  A namespace that goes away while the operator's
first LIST there is still in flight leaves that gate closed for good: kopf (1.45) cancels the
namespace's watchers but never drops their "not listed yet" marks.  From then on the events of every
watch that had not yet passed the open gate once (at start-up: all of them; later: those of every
namespace that appears afterwards) are indexed and never handled, while the event loop, the health
endpoint and every other probe look fine (issue 14's stalled-operator flake: glob-watching operators
started while the previous test module's namespaces were finishing their deletion).

How: the index handlers run *before* that gate, an on-event handler of the same object right *after*
it.  Each indexed event is noted here (``seen``) and crossed out by the on-event handler (``handled``);
an event left waiting longer than ``limit`` seconds is a stall, and the ``/healthz`` probe fails with
it, so the kubelet restarts the operator.  Pure apart from a lock: the clock is injected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

STALL_ENV = "STALL_SECONDS"
# Long enough for a first listing of a big cluster, short next to the minutes a stall went unnoticed.
DEFAULT_STALL_SECONDS = 60.0


def stall_limit(environ: Mapping[str, str]) -> float:
    """Seconds an indexed event may wait for its handler (``STALL_SECONDS``); ``0`` turns the check off."""
    raw = environ.get(STALL_ENV, "").strip()
    if not raw:
        return DEFAULT_STALL_SECONDS
    value = float(raw)
    if value < 0:
        raise ValueError(f"{STALL_ENV} must be >= 0, got {raw!r}")
    return value


@dataclass(frozen=True)
class Stall:
    """The oldest event kopf indexed but never handed to a handler."""

    what: str
    seconds: float
    pending: int

    @property
    def message(self) -> str:
        return (
            f"stalled: {self.pending} watch event(s) indexed but not handled, the oldest ({self.what}) "
            f"for {self.seconds:.0f}s; kopf is no longer processing events (restart the operator)"
        )


class Watchdog:
    """Indexed-but-unhandled events by object UID (thread-safe: kopf calls the sync index handlers
    from its executor threads)."""

    def __init__(self, limit: float = DEFAULT_STALL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[float, str]] = {}  # uid → (first unhandled event, what)

    def seen(self, uid: str, what: str) -> None:
        """An event of ``uid`` was indexed; keeps the time of the oldest one not handled yet."""
        with self._lock:
            self._pending.setdefault(uid, (self._clock(), what))

    def handled(self, uid: str) -> None:
        """An event of ``uid`` reached its handler: everything indexed before it has too."""
        with self._lock:
            self._pending.pop(uid, None)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def stalled(self) -> Stall | None:
        """The oldest event waiting longer than ``limit``; ``None`` while events flow (or ``limit`` is 0)."""
        if self.limit <= 0:
            return None
        with self._lock:
            if not self._pending:
                return None
            since, what = min(self._pending.values())
            count = len(self._pending)
        waited = self._clock() - since
        return Stall(what, waited, count) if waited > self.limit else None
