"""The stall watchdog (``ocr_operator.watchdog``) with a fake clock; against the API server (a real
stall of kopf failing ``/healthz``) in ``test_operator_resilience.py``."""

from __future__ import annotations

import logging

import pytest

from ocr_operator.handlers import _OptionalKedaNote, _QuietChildEvents
from ocr_operator.watchdog import DEFAULT_STALL_SECONDS, Watchdog, stall_limit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_events_that_reach_their_handlers_are_no_stall() -> None:
    clock = Clock()
    dog = Watchdog(limit=60, clock=clock)
    for i in range(100):
        dog.seen(f"uid-{i % 7}", "Deployment ns/a")
        clock.now += 5
        dog.handled(f"uid-{i % 7}")
    clock.now += 1000
    assert dog.stalled() is None and dog.pending == 0


def test_an_event_waiting_past_the_limit_is_a_stall_naming_the_oldest() -> None:
    clock = Clock()
    dog = Watchdog(limit=60, clock=clock)
    dog.seen("a", "OcrService ns/old")
    clock.now += 30
    dog.seen("b", "Service ns/newer")
    dog.seen("a", "OcrService ns/old (a later event)")  # keeps the time of the first unhandled one
    clock.now += 30
    assert dog.stalled() is None  # 60 s is not more than the limit
    clock.now += 1
    stall = dog.stalled()
    assert stall is not None and (stall.what, stall.pending, round(stall.seconds)) == ("OcrService ns/old", 2, 61)
    assert "2 watch event(s) indexed but not handled" in stall.message and "OcrService ns/old" in stall.message
    dog.handled("a")
    assert dog.stalled() is None  # "b" waited 31 s only
    clock.now += 30
    assert dog.stalled() is not None and dog.stalled().what == "Service ns/newer"  # type: ignore[union-attr]


def test_a_limit_of_zero_turns_the_check_off() -> None:
    clock = Clock()
    dog = Watchdog(limit=0, clock=clock)
    dog.seen("a", "x")
    clock.now += 10_000
    assert dog.stalled() is None and dog.pending == 1


def test_stall_limit_from_the_environment() -> None:
    assert stall_limit({}) == DEFAULT_STALL_SECONDS
    assert stall_limit({"STALL_SECONDS": " 7.5 "}) == 7.5 and stall_limit({"STALL_SECONDS": "0"}) == 0
    with pytest.raises(ValueError, match="STALL_SECONDS must be >= 0"):
        stall_limit({"STALL_SECONDS": "-1"})
    with pytest.raises(ValueError):
        stall_limit({"STALL_SECONDS": "soon"})


def _record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("kopf", level, __file__, 1, message, None, None)


def test_log_filters_quiet_per_event_lines_and_the_expected_missing_keda() -> None:
    quiet = _QuietChildEvents()
    assert not quiet.filter(_record("Handler 'deployments_drift' succeeded."))
    assert not quiet.filter(_record("Handler 'ocrservices_seen' succeeded."))
    assert quiet.filter(_record("Handler 'reconcile_ocrservice' succeeded."))

    note = _OptionalKedaNote()
    unresolved = "Unresolved resources cannot be served (try creating their CRDs): "
    for listed in ("Selector(group='keda.sh', version='v1alpha1', plural='scaledobjects')", "scaledobjects.keda.sh"):
        keda = _record(unresolved + listed, logging.WARNING)
        assert note.filter(keda) and keda.levelname == "INFO", listed
    both = "Selector(group='keda.sh', version='v1alpha1', plural='scaledobjects'), Selector(group='ocr-crnn.io')"
    for listed in ("Selector(group='ocr-crnn.io', version='v1alpha1', plural='ocrservices')", both):
        other = _record(unresolved + listed, logging.WARNING)
        assert note.filter(other) and other.levelname == "WARNING", listed  # the operator's own CRD: a warning
