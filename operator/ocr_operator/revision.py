"""PURE: a hash of each desired child, stamped on the child as an annotation.

Why: a child that differs from what the current spec asks for is either a *hand edit* (the child
changed after the operator applied this very spec) or a *rollout* (the spec changed and the
operator has not applied it yet, e.g. it was down while the OcrService was edited).  Only the first
deserves a ``DriftCorrected`` Warning.  The annotation records which desired state the operator
last applied, so the two can be told apart from the child alone, across operator restarts.

A child without the annotation (made by an older operator, or a hand edit that removed it) counts as
not yet applied for the current spec: restored quietly, never a false alarm.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ocr_operator.spec import GROUP

APPLIED_HASH_ANNOTATION = f"{GROUP}/applied-hash"


def manifest_hash(manifest: Mapping[str, Any]) -> str:
    """Short hash of a desired manifest, ignoring its own hash annotation (deterministic: sorted keys)."""
    body = copy.deepcopy(dict(manifest))
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations")
    if annotations is not None:
        annotations.pop(APPLIED_HASH_ANNOTATION, None)
        if not annotations:
            del meta["annotations"]  # stamping added the map: hash as if it never had one
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def stamp(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` with its hash annotation set (in place, and returned for chaining)."""
    digest = manifest_hash(manifest)
    manifest.setdefault("metadata", {}).setdefault("annotations", {})[APPLIED_HASH_ANNOTATION] = digest
    return manifest


def applied_hash(live: Mapping[str, Any] | None) -> str | None:
    """The hash the operator stamped on a live child when it last applied it (``None``: unknown)."""
    return (((live or {}).get("metadata") or {}).get("annotations") or {}).get(APPLIED_HASH_ANNOTATION)


def is_hand_edit(desired: Mapping[str, Any], live: Mapping[str, Any]) -> bool:
    """Whether a live child that differs from ``desired`` was changed by someone else *after* the
    operator applied this same desired state (else the spec moved on: a rollout, not drift)."""
    return applied_hash(live) == applied_hash(desired) is not None
