"""PURE: does a live child still carry every field the operator wants it to have?

Why a subset check and not "apply every time": the drift watch sees every child event, most of
them the cluster's own status updates; re-applying on each would cost one API write per event.
The live object legitimately has more than we asked for (defaults, status, other managers'
fields), so only the fields we set are compared, and quantities compare by value ("1000m" == "1"),
because the API server stores them in canonical form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from kubernetes.utils import parse_quantity


def _same_scalar(want: Any, have: Any) -> bool:
    if isinstance(want, bool) or isinstance(have, bool):
        return want is have
    if want == have:
        return True
    if isinstance(want, str | int | float) and isinstance(have, str | int | float):
        try:
            return Decimal(parse_quantity(want)) == Decimal(parse_quantity(have))
        except (ValueError, TypeError, InvalidOperation):
            return False
    return False


def drift_paths(want: Any, have: Any, path: str = "") -> list[str]:
    """Paths (``spec.template.spec.containers[0].image``) where ``have`` lacks or differs from ``want``."""
    if isinstance(want, Mapping):
        if not isinstance(have, Mapping):
            return [path or "."]
        out: list[str] = []
        for key, value in want.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in have:
                out.append(sub)
            else:
                out.extend(drift_paths(value, have[key], sub))
        return out
    if isinstance(want, Sequence) and not isinstance(want, str):
        if not isinstance(have, Sequence) or isinstance(have, str) or len(want) != len(have):
            return [path]
        out = []
        for i, (w, h) in enumerate(zip(want, have, strict=True)):
            out.extend(drift_paths(w, h, f"{path}[{i}]"))
        return out
    return [] if _same_scalar(want, have) else [path]
