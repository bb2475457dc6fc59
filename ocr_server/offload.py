"""Run CPU-bound OCR work on a native thread, so the gevent hub keeps serving while it runs.

Under gunicorn's gevent worker (see ``gunicorn.conf.py``) every connection is a greenlet on one
hub thread.  Slow clients then cost nothing but a greenlet, but CPU work done on the hub would
stall every connection: probes included.  So the pipeline runs in a small pool of native threads
(ONNX Runtime, OpenCV, numpy and Pillow's decoders release the GIL for their heavy parts) and
the request's greenlet waits for it, at most until the request's deadline.  At the deadline the
greenlet answers 504 and cancels the deadline, so the work stops at its next check
(:mod:`ocr_server.deadline`); ``on_done`` runs when the work has really stopped, which is when
its OCR slot and pixel budget are given back.

Without gevent (Flask's test client or dev server, a sync worker) the work simply runs inline:
the cooperative deadline checks still stop it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .deadline import Deadline
from .errors import RequestTimedOut

T = TypeVar("T")

# Seconds the greenlet waits past the deadline for the work's own cooperative stop before it
# answers by itself (the work's error message is more precise than ours).
COOPERATIVE_GRACE_S = 0.5


def gevent_active() -> bool:
    """Whether this process runs under gevent's monkey patching (the gunicorn gevent worker)."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return bool(monkey.is_module_patched("threading"))


def native_lock() -> Any:
    """A real OS lock even under monkey patching: it is taken on the hub *and* in native threads
    (a gevent lock must not be used from a thread that has no hub of its own)."""
    try:
        from gevent.monkey import get_original
    except ImportError:
        return threading.Lock()
    return get_original("_thread", "allocate_lock")()


def _boxed(fn: Callable[[], T]) -> Callable[[], tuple[bool, Any]]:
    """``fn`` returning ``(True, result)`` or ``(False, exception)``: gevent's pool prints a task's
    exception as a traceback on stderr, so exceptions are handed over as values instead."""

    def run() -> tuple[bool, Any]:
        try:
            return True, fn()
        except BaseException as err:
            return False, err

    return run


def run_native(fn: Callable[[], T]) -> T:
    """``fn()`` on a native thread of gevent's hub pool while this greenlet waits (inline without
    gevent).  For one-off blocking work such as loading the model, so the hub keeps answering
    probes and sending gunicorn's heartbeat meanwhile."""
    if not gevent_active():
        return fn()
    import gevent

    ok, value = gevent.get_hub().threadpool.spawn(_boxed(fn)).get()
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


class Offloader:
    """A pool of ``size`` native threads for the pipeline (one per OCR slot)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pool: Any = None
        self._pool_lock = threading.Lock()

    def _gevent_pool(self) -> Any:
        with self._pool_lock:
            if self._pool is None:
                from gevent.threadpool import ThreadPool

                self._pool = ThreadPool(self.size)
            return self._pool

    def run(self, fn: Callable[[], T], deadline: Deadline, on_done: Callable[[], None]) -> T:
        """``fn()``'s result, or :class:`RequestTimedOut` once ``deadline`` passes.

        ``on_done`` is called exactly once, when ``fn`` has finished (returned or raised), in
        whichever thread ran it."""

        def job() -> T:
            try:
                deadline.check()  # it may have waited in the pool's queue
                return fn()
            finally:
                on_done()

        if not gevent_active():
            return job()
        import gevent

        result = self._gevent_pool().spawn(_boxed(job))
        try:
            ok, value = result.get(timeout=max(0.0, deadline.remaining()) + COOPERATIVE_GRACE_S)
        except gevent.Timeout:
            deadline.cancel()
            raise RequestTimedOut(f"the request took longer than {deadline.seconds:g} s and was abandoned") from None
        if ok:
            return value  # type: ignore[no-any-return]
        raise value
