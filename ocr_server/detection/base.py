"""The line-detector interface: what the pipeline needs from any detector, OpenCV or learned.

A detector is a pure function of one preprocessed page.  Keeping the contract this small (a gray
page in, axis-aligned boxes in reading order out) lets a learned detector replace the OpenCV one
without the pipeline, the API or the benchmarks changing.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

Box = tuple[int, int, int, int]
"""``(x1, y1, x2, y2)`` in the input image's pixels; ``x2``/``y2`` are exclusive (slice-ready)."""


@runtime_checkable
class LineDetector(Protocol):
    """Finds text lines on a page.

    Implementations must be thread-safe (gunicorn threads share one instance): keep no per-call state
    on ``self``.
    """

    def detect(self, gray: np.ndarray) -> list[Box]:
        """Return line boxes of a grayscale uint8 page in reading order.

        Reading order is top to bottom and, for boxes on the same printed line, left to right.
        A blank page gives ``[]``.
        """
        ...


def box_height(box: Box) -> int:
    """Height of a box in pixels."""
    return box[3] - box[1]


def box_width(box: Box) -> int:
    """Width of a box in pixels."""
    return box[2] - box[0]
