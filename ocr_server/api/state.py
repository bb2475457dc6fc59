"""What the views share within one worker, kept in ``app.extensions`` (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from ..budget import Budget
from ..config import OcrConfig
from ..faults import ErrorInjector, FaultInjection
from ..limiter import ConcurrencyLimiter
from ..offload import Offloader
from ..service import OcrService

EXTENSION_KEY = "ocr"


@dataclass(frozen=True)
class AppState:
    config: OcrConfig
    service: OcrService
    limiter: ConcurrencyLimiter
    pixels: Budget  # decoded pixels of the worker's in-flight requests
    uploads: Budget  # request-body bytes the worker holds
    offloader: Offloader
    faults: FaultInjection  # test-only switches (OCR_FAULT_INJECTION); inactive by default
    error_injector: ErrorInjector


def get_state() -> AppState:
    """The state of the app handling the current request."""
    state: AppState = current_app.extensions[EXTENSION_KEY]
    return state
