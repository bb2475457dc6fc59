"""Where the shared research datasets live: one setting, ``$OCR_SHARED_DATA``, read here only.

The datasets (SROIE receipts, IIIT 5K words, FUNSD forms) are not ours and never go into the repo or
an image; developers and CI keep them in ``shared/data/`` beside the repo root.  Tests, benchmarks
and training all find them through :func:`dataset_dir`, so pointing ``OCR_SHARED_DATA`` elsewhere
(a fresh clone in ``/tmp``, a CI cache) moves every reader at once instead of some of them silently
skipping.  Standard library only: the server, the operator, the benchmarks and training import it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "OCR_SHARED_DATA"
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Dataset:
    """One shared set: its folder name, the manifest that proves it is there, and how it may be used."""

    name: str
    manifest: str
    validation_only: bool
    what: str


# shared/README.md is the source; these are the sets the code reads.
DATASETS: Mapping[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("sroie-dev", "pages.jsonl", True, "63 scanned receipts (SROIE), 3,213 lines"),
        Dataset("sroie-train", "pages.jsonl", False, "500 other SROIE receipts, 26,983 lines"),
        Dataset("iiit5k-train", "manifest.jsonl", True, "2,000 cropped scene-text words (IIIT 5K-Word)"),
        Dataset("funsd-train", "pages.jsonl", False, "149 scanned forms (FUNSD), 8,065 mixed-case lines"),
    )
}


class SharedDataMissing(FileNotFoundError):
    """A dataset's manifest is not where ``$OCR_SHARED_DATA`` says; the message names the path."""


def data_root(environ: Mapping[str, str] | None = None) -> Path:
    """``$OCR_SHARED_DATA`` when set (``~`` expanded), else ``shared/data`` beside the repo root."""
    env = os.environ if environ is None else environ
    value = env.get(ENV_VAR, "").strip()
    return Path(value).expanduser() if value else REPO_ROOT.parent / "shared" / "data"


def dataset_dir(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """The folder of one set, e.g. ``dataset_dir("sroie-dev")``; it may not exist (see :func:`require`)."""
    return data_root(environ) / name


def manifest_path(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """The file whose presence means the set is usable (``pages.jsonl`` or ``manifest.jsonl``)."""
    known = DATASETS.get(name)
    return dataset_dir(name, environ) / (known.manifest if known else "pages.jsonl")


def require(name: str, environ: Mapping[str, str] | None = None) -> Path:
    """The set's folder, or :class:`SharedDataMissing` saying which path was looked at and how to fix it."""
    manifest = manifest_path(name, environ)
    if not manifest.is_file():
        raise SharedDataMissing(
            f"shared dataset {name!r} not found: {manifest} does not exist "
            f"(set {ENV_VAR} to the folder holding {name}/; default: shared/data beside the repo root)"
        )
    return manifest.parent
