"""Test-only fault injection: ``OCR_FAULT_INJECTION=errors=0.5,golden=fail``.

The operator's canary analysis must be shown to roll back a canary that answers errors, and to keep
traffic away from one that fails its reading gate; a healthy model does neither on its own.  This
switch makes a worker misbehave on purpose, in ways the rest of the server treats exactly like the
real thing:

* ``errors=<fraction 0..1>``: that fraction of ``/api/v1/recognize`` and ``/api/v1/ocr`` requests
  answers HTTP 500 ``injected_fault`` (counted in ``ocr_http_requests_total`` like any response).
  Counter-based, not random: request *n* of the worker fails when ``floor(n*f)`` steps up, so
  ``errors=0.5`` fails every second request and a test can count exactly.
* ``golden=fail``: the start-up golden set is compared against deliberately corrupted texts, so the
  gate measures a CER near 1 and the worker stays unready, as with a model that misreads.

Never set it in production.  An unknown key or a bad value refuses start-up (it is a
:class:`~ocr_server.config.ConfigError`); an active switch is logged at WARNING and shown in
``/api/v1/info``.  Standard library only (plus the config module's error type).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .config import ConfigError

FAULT_ENV = "OCR_FAULT_INJECTION"
KNOWN_KEYS = ("errors", "golden")


class FaultInjectionError(ConfigError):
    """``OCR_FAULT_INJECTION`` holds something this server does not understand."""


@dataclass(frozen=True)
class FaultInjection:
    """The parsed switch; the default injects nothing."""

    error_fraction: Fraction = Fraction(0)
    golden_fail: bool = False

    @property
    def active(self) -> bool:
        return self.error_fraction > 0 or self.golden_fail

    def to_json(self) -> dict[str, Any]:
        """What ``/api/v1/info`` shows: only the faults that are on (``{}`` when none)."""
        out: dict[str, Any] = {}
        if self.error_fraction:
            out["errors"] = float(self.error_fraction)
        if self.golden_fail:
            out["golden"] = "fail"
        return out


def _fraction(value: str) -> Fraction:
    try:
        fraction = Fraction(value)  # exact: "0.1" is 1/10, so the counter's steps are exact too
    except (ValueError, ZeroDivisionError):
        raise FaultInjectionError(
            f"{FAULT_ENV}: errors must be a fraction between 0 and 1, not {value[:20]!r}"
        ) from None
    if not 0 <= fraction <= 1:
        raise FaultInjectionError(f"{FAULT_ENV}: errors must be between 0 and 1, not {value[:20]!r}")
    return fraction


def parse_fault_injection(text: str | None) -> FaultInjection:
    """Parse ``key=value[,key=value]``; empty or ``None`` is no fault.  Raises
    :class:`FaultInjectionError` naming the bad part."""
    if text is None or not text.strip():
        return FaultInjection()
    values: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not key or not value:
            raise FaultInjectionError(f"{FAULT_ENV}: expected key=value items separated by commas, got {part[:40]!r}")
        if key not in KNOWN_KEYS:
            raise FaultInjectionError(f"{FAULT_ENV}: unknown key {key[:20]!r} (known: {', '.join(KNOWN_KEYS)})")
        if key in values:
            raise FaultInjectionError(f"{FAULT_ENV}: {key} is given twice")
        values[key] = value
    golden = values.get("golden")
    if golden is not None and golden != "fail":
        raise FaultInjectionError(f"{FAULT_ENV}: golden takes only the value fail, not {golden[:20]!r}")
    return FaultInjection(_fraction(values.get("errors", "0")), golden == "fail")


def fault_injection_from_env(environ: Mapping[str, str]) -> FaultInjection:
    return parse_fault_injection(environ.get(FAULT_ENV))


@dataclass
class ErrorInjector:
    """Decides, request by request, whether to fail one: exactly ``fraction`` of them, evenly spread."""

    fraction: Fraction
    _count: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def should_fail(self) -> bool:
        if not self.fraction:
            return False
        with self._lock:
            n = next(self._count)
        return math.floor(n * self.fraction) > math.floor((n - 1) * self.fraction)
