"""The reading gate: a bundle's golden set, read by the recognizer that will serve it.

A model bundle may carry ``golden/golden.jsonl`` (``{"image": "00.png", "text": ...}`` a line) and
its PNG line images, made by ``python -m training.golden``; ``model.json`` then holds
``"golden": {"file", "lines", "cer", "max_cer"}``: what the maker measured and the bound the bundle
must stay within.  A model can load fine and still read badly (a broken export, the wrong charset,
weights from a bad run): only reading text whose answer is known shows it.  The server runs this at
start-up (:class:`~ocr_server.service.OcrService`) and stays unready when it fails; the maker uses the
very same :func:`read_golden` and :func:`measure`, so the maker's figure and the server's agree.

Flask-free and torch-free: the server, the maker and the tests share it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np

from .registry import ModelBundle
from .scoring import cer

GOLDEN_KEY = "golden"  # the key in model.json

Status = Literal["passed", "failed", "absent"]


class GoldenSetError(ValueError):
    """The bundle declares a golden set that cannot be read (missing files, bad JSON, wrong count)."""


class LineReader(Protocol):
    """What the gate needs from a recognizer: line crops in, objects with ``.text`` out."""

    def recognize(self, crops: list[np.ndarray]) -> list[Any]: ...


@dataclass(frozen=True)
class GoldenSpec:
    """``model.json``'s ``golden`` entry."""

    file: str
    lines: int
    cer: float
    max_cer: float

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> GoldenSpec | None:
        """The entry of a bundle's manifest, ``None`` when the bundle has no golden set."""
        raw = meta.get(GOLDEN_KEY)
        if raw is None:
            return None
        try:
            return cls(str(raw["file"]), int(raw["lines"]), float(raw["cer"]), float(raw["max_cer"]))
        except (KeyError, TypeError, ValueError) as err:
            raise GoldenSetError(f"model.json's golden entry is malformed: {err!r}") from None


@dataclass(frozen=True)
class GoldenItem:
    image: np.ndarray  # gray uint8 line image
    text: str  # what it says


@dataclass(frozen=True)
class GoldenResult:
    """The gate's verdict for one worker, as ``/ready``, ``/api/v1/info`` and the metrics show it."""

    status: Status
    cer: float | None = None
    max_cer: float | None = None
    lines: int | None = None
    reason: str | None = None
    seconds: float | None = None

    @property
    def passed(self) -> bool:
        return self.status != "failed"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"passed": self.passed, "status": self.status}
        for key in ("cer", "max_cer", "lines", "reason", "seconds"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        return body


def read_golden(bundle_path: Path, spec: GoldenSpec) -> list[GoldenItem]:
    """The golden set's images and texts; :class:`GoldenSetError` when anything is missing or odd.

    Messages name files relative to the bundle (they are shown by ``/api/v1/info``, which must not
    reveal the server's paths)."""
    manifest = bundle_path / spec.file
    try:
        rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError:
        raise GoldenSetError(f"{spec.file} cannot be read") from None
    except json.JSONDecodeError as err:
        raise GoldenSetError(f"{spec.file} is not JSON lines: {err.msg} at line {err.lineno}") from None
    if len(rows) != spec.lines:
        raise GoldenSetError(f"{spec.file} has {len(rows)} lines, model.json says {spec.lines}")
    items = []
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("image"), str) or not isinstance(row.get("text"), str):
            raise GoldenSetError(f"{spec.file} line {n}: needs string fields image and text")
        image_path = manifest.parent / row["image"]
        if Path(row["image"]).is_absolute() or ".." in Path(row["image"]).parts:
            raise GoldenSetError(f"{spec.file} line {n}: image must be a file beside it, not {row['image']!r}")
        image = cv2.imread(str(image_path), cv2.IMREAD_GRAYSCALE) if image_path.is_file() else None
        if image is None or image.size == 0:
            raise GoldenSetError(f"{spec.file} line {n}: {row['image']} is missing or not an image")
        items.append(GoldenItem(image, row["text"]))
    return items


def misread(text: str) -> str:
    """``text`` as a model reading garbage would answer it: every printable ASCII character moved
    47 places along (ROT47), anything else left alone.  Used by the test-only fault switch
    ``golden=fail``: compared against these texts, a healthy model measures a CER near 1."""
    return "".join(chr(33 + (ord(c) - 33 + 47) % 94) if "!" <= c <= "~" else c for c in text)


def measure(reader: LineReader, items: list[GoldenItem], *, corrupt_expected: bool = False) -> float:
    """Case-sensitive corpus CER of ``reader`` on ``items`` (the golden set has real letter case)."""
    predictions = [r.text for r in reader.recognize([item.image for item in items])]
    expected = [misread(item.text) if corrupt_expected else item.text for item in items]
    return cer(zip(predictions, expected, strict=True))


def check_bundle(reader: LineReader, bundle: ModelBundle | None, *, corrupt_expected: bool = False) -> GoldenResult:
    """Read ``bundle``'s golden set with ``reader`` and judge it against the bound in model.json.

    ``bundle`` is ``None`` for a stand-in recognizer that has no bundle (tests): nothing to read, so
    ``absent``, as for a bundle made before golden sets existed.  ``corrupt_expected`` (the test-only
    fault switch) fails the gate the way a misreading model would: by the same comparison."""
    t0 = time.perf_counter()
    try:
        spec = GoldenSpec.from_meta(bundle.meta) if bundle is not None else None
        if spec is None:
            if corrupt_expected:
                return GoldenResult("failed", reason="fault injection golden=fail (the bundle has no golden set)")
            return GoldenResult("absent")
        items = read_golden(bundle.path, spec)  # type: ignore[union-attr]
    except GoldenSetError as err:
        return GoldenResult("failed", reason=f"golden set unreadable: {err}")
    measured = round(measure(reader, items, corrupt_expected=corrupt_expected), 4)
    seconds = round(time.perf_counter() - t0, 3)
    if measured > spec.max_cer:
        reason = (
            f"the model reads its golden set with CER {measured:.4f}, above the bound {spec.max_cer:.4f} "
            f"of its model card ({len(items)} lines; measured {spec.cer:.4f} when the bundle was made)"
        )
        if corrupt_expected:
            reason += "; fault injection golden=fail compared it against corrupted texts"
        return GoldenResult("failed", measured, spec.max_cer, len(items), reason, seconds)
    return GoldenResult("passed", measured, spec.max_cer, len(items), None, seconds)
