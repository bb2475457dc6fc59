"""Named splits of the shared data sets, torch-free so benchmarks and tests can use them too.

funsd-train (real mixed-case forms) is split **by form**: ``funsd-val`` is never trained on and is
what ``make evaluate``, the training's checkpoint choice and ``bench/page_latency.py --split
funsd-val`` measure real letter case with; ``funsd-fit`` is the rest, trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import PurePosixPath


def funsd_is_validation(image: str) -> bool:
    """Whether a funsd-train form belongs to our validation split: one form in seven by a hash of
    its file name (17 forms, 855 lines), so the split is by form, never by line, and stable."""
    return int(hashlib.sha1(PurePosixPath(image).name.encode()).hexdigest(), 16) % 7 == 0


def _funsd_fit(image: str) -> bool:
    return not funsd_is_validation(image)


# name -> (folder under shared/data, page filter on the page's ``image`` path)
SPLITS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "funsd-val": ("funsd-train", funsd_is_validation),
    "funsd-fit": ("funsd-train", _funsd_fit),
}
