"""What a test needs from outside the repo, and what happens when it is absent.

On a developer's machine a missing prerequisite (the shared datasets, fonts, Chromium) skips the
test with the reason.  Under ``CI=true`` it fails the test instead, naming what is missing and where
it was looked for: CI runs on a machine ``make setup`` prepared, so an absent prerequisite there is
a broken setup, and a skip would hide it (``399 passed, 12 skipped`` once meant 9 tests had never
run).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from ocr_server import shared_data


def in_ci() -> bool:
    """``CI=true`` (any case), as set by ``.ci/run`` and most CI services."""
    return os.environ.get("CI", "").strip().lower() == "true"


def missing(reason: str, *, module_level: bool = False) -> NoReturn:
    """Skip the current test (or, with ``module_level``, the importing module) with ``reason``;
    fail under ``CI=true``."""
    if in_ci():
        pytest.fail(f"CI=true and a prerequisite is missing: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def shared_dataset(name: str) -> Path:
    """The folder of a shared dataset (see :mod:`ocr_server.shared_data`); skips or fails when absent."""
    try:
        return shared_data.require(name)
    except shared_data.SharedDataMissing as err:
        missing(str(err))


def real_node() -> None:
    """Skip (fail under ``CI=true``) unless this machine can run a real node (tests/cluster/node.py).

    The real-node tests run by default wherever they can (root, containerd & co, `make setup`'s node
    tools and images), so `make test` is the same suite here as in CI.  ``OCR_REAL_NODE=0`` turns
    them off on a developer's machine (they take minutes and lock the machine's one real node); CI
    refuses that, since a skip there would hide them."""
    from tests.cluster import images
    from tests.cluster.node import missing_node_requirements

    if os.environ.get("OCR_REAL_NODE", "").strip() == "0":
        missing("real-node tests turned off with OCR_REAL_NODE=0")
    gaps = missing_node_requirements()
    # A test never builds an image (minutes to half an hour): `make test` / `make node-images` do.
    gaps += [
        f"image {name} not built for the current inputs ({images.archive_path(spec)}): make node-images"
        for name, spec in images.IMAGES.items()
        if not images.archive_path(spec).is_file()
    ]
    if gaps:
        missing("real node not possible here: " + "; ".join(gaps))
