"""PURE: what restoring a child to its desired state means, told from the child alone.

Shared by the reconciler's restore paths (main, jobs and canary children): nothing to do, a Warning
(deleted, or changed by hand after the operator applied this very spec), or a plain apply (the child
was applied for an older spec: a rollout the owner's reconcile would do anyway).
"""

from __future__ import annotations

import logging
from typing import Any

from ocr_operator.builders import ChildKind
from ocr_operator.drift import drift_paths
from ocr_operator.revision import is_hand_edit
from ocr_operator.status import EventSpec

log = logging.getLogger("ocr_operator")

NO_DRIFT = EventSpec("Normal", "NoDrift", "")  # sentinel: the child already is what the spec asks


def restore_event(
    kind: ChildKind, name: str, desired: dict[str, Any], child: dict[str, Any] | None, where: str
) -> EventSpec | None:
    """What restoring ``child`` to ``desired`` means after a child event, read fresh.

    ``NO_DRIFT`` when nothing differs; a Warning to post when it was deleted or changed by hand;
    ``None`` when it was last applied for another spec (the spec changed while the operator was
    down or busy): a rollout the owner's reconcile would do anyway, not a hand edit.
    """
    if child is None:
        return EventSpec("Warning", "ChildRestored", f"{kind.kind} {name} was deleted; recreated it")
    paths = drift_paths(desired, child)
    if not paths:
        return NO_DRIFT
    shown = ", ".join(paths[:5]) + (", ..." if len(paths) > 5 else "")
    if is_hand_edit(desired, child):
        return EventSpec("Warning", "DriftCorrected", f"{kind.kind} {name} was changed by hand ({shown}); restored it")
    log.info("%s: applying the current spec to %s %s (%s)", where, kind.kind, name, shown)
    return None
