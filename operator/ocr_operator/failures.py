"""PURE: what went wrong applying which child, and how that reads on the OcrService.

Why per child: one refused child (a 422 on the Ingress, a quota on the Service) must neither hide
the others' state nor stop them from being applied, and the condition message must say which child
and why, so users need not read the operator's log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ocr_operator.status import Problem


@dataclass(frozen=True)
class ChildFailure:
    """One child the operator could not bring to its desired state.

    ``permanent``: the desired object itself is refused (invalid, forbidden), so only a spec change
    (or a change of the child) can help; otherwise a later retry may succeed (API server busy, quota,
    IP range full) and the operator retries with back-off.
    """

    kind: str
    name: str
    message: str
    permanent: bool


def summarize(failures: Iterable[ChildFailure]) -> Problem | None:
    """One ``ApplyFailed`` problem naming every failed child (sorted, so the text is stable across
    retries: the same failure must not look like a new one and post a second Event)."""
    items = sorted(failures, key=lambda f: (f.kind, f.name))
    if not items:
        return None
    return Problem("ApplyFailed", "; ".join(f.message for f in items))


def retryable(failures: Iterable[ChildFailure]) -> bool:
    """Whether any failure may go away by itself (then the operator retries)."""
    return any(not f.permanent for f in failures)
