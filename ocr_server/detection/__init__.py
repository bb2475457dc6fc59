"""Text-line detection: pick the implementation named in the config.

Implementations are imported lazily so that a future learned detector's dependencies are only
loaded when it is selected.
"""

from __future__ import annotations

from ..config import DetectionConfig
from .base import Box, LineDetector

__all__ = ["Box", "LineDetector", "create_detector"]


def create_detector(cfg: DetectionConfig, language: str | None = None) -> LineDetector:
    """Build the detector named by ``cfg.detector`` with the thresholds of ``cfg``, shaped for the
    script of ``language`` (the model's BCP 47 tag, e.g. ``zh-Hans``; None: Latin)."""
    if cfg.detector == "opencv":
        from .opencv import OpenCVLineDetector
        from .tuning import tuning_for

        return OpenCVLineDetector(cfg, tuning_for(language))
    raise ValueError(f"unknown line detector {cfg.detector!r}")  # pragma: no cover - the schema forbids it
