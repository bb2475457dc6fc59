"""I/O: apply one child, and converge even when server-side apply cannot.

Why apply alone can wedge: apply merges lists by their merge key (Service ports by ``port`` +
``protocol``, containers, env and volumes by ``name``).  A hand edit that changes a merge key (port
80 → 81) leaves the edited entry owned by the editor; our apply then adds port 80 *beside* it, and
the API server refuses the result (``spec.ports[1].name: Duplicate value: "http"``, 422).  Retrying
the same apply would fail forever.

The same edit does not always make apply fail: an env var renamed by hand (env merges by name)
leaves the renamed entry beside ours, and the apply succeeds with a list longer than ours.  So an
apply whose result still differs from the desired object goes to step 2 as well.

The ladder, taken after apply answered 422 (or left the object different from ours, from step 2):

1. Is our desired object valid on its own?  A dry-run *create* validates it without the live object
   (validation runs before the AlreadyExists check, so 409 means "valid").  If it is refused too,
   the spec is at fault (e.g. an invalid Ingress annotation key): the 422 stands, the live child is
   left as it is (it may still serve), and the failure is reported until the spec changes.
2. JSON merge patch with the desired manifest: maps merge as before, but each list we set replaces
   the live list whole, so the edited entry goes.  Apply then succeeds and takes the fields back.
   Chosen first because it keeps the object (its UID, a Service's cluster IP, a Deployment's pods).
3. Only if the live object cannot be patched back either (e.g. a ConfigMap made ``immutable`` by
   hand, a Service turned into ExternalName): delete it (UID precondition, so never a newer object)
   and apply a new one.  For a Deployment the caller's ``recreate`` orphans its ReplicaSets first,
   so the pods keep serving and the new Deployment adopts them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ocr_operator.builders import ChildKind
from ocr_operator.builders.meta import FIELD_MANAGER
from ocr_operator.drift import drift_paths
from ocr_operator.errors import ApplyError

if TYPE_CHECKING:
    from ocr_operator.apply import KubeApi

log = logging.getLogger(__name__)

# The merge patch is an Update, not an Apply: a manager name of its own keeps managedFields readable.
REPAIR_MANAGER = f"{FIELD_MANAGER}-repair"

Recreate = Callable[[Mapping[str, Any]], None]


def _where(desired: Mapping[str, Any]) -> str:
    meta = desired["metadata"]
    return f"{meta['namespace']}/{meta['name']}"


def _check_desired_is_valid(api: KubeApi, kind: ChildKind, desired: Mapping[str, Any], refused: ApplyError) -> None:
    """Raise ``refused`` when the desired object itself is invalid (step 1)."""
    try:
        api.dry_run_create(kind, desired)
    except ApplyError as err:
        if err.status == 409:
            return  # valid; the live object is what stands in the way
        if err.status in (400, 422):
            raise refused from err  # the desired object itself is invalid: the spec must change
        # Undecided (a full quota, a busy server): try again later rather than blame the spec.
        raise ApplyError(f"{refused}; could not validate ours: {err}", permanent=False, status=err.status) from err
    # Valid and absent: the child was deleted between the two requests. Apply again later.
    raise ApplyError(f"{refused}; the object is gone now, retrying", permanent=False, status=refused.status)


def _delete_and_recreate(api: KubeApi, kind: ChildKind, desired: Mapping[str, Any]) -> None:
    meta = desired["metadata"]
    live = api.get(kind, meta["namespace"], meta["name"])
    if live is not None:
        api.delete(kind, meta["namespace"], meta["name"], uid=(live.get("metadata") or {}).get("uid"))


def apply_child(
    api: KubeApi,
    kind: ChildKind,
    desired: Mapping[str, Any],
    *,
    recreate: Recreate | None = None,
    repaired: list[ChildKind] | None = None,
) -> dict[str, Any]:
    """Server-side apply ``desired``; on a 422 repair the live object (see the module docstring).
    ``recreate(live)`` removes a live object that cannot be patched back (default: delete it).
    ``repaired`` collects the kinds that needed the ladder: the operator's own applies never leave
    a child like that, so it was a hand edit, even when the spec changed too."""
    where = _where(desired)
    try:
        applied = api.apply(kind, desired)
    except ApplyError as err:
        if err.status != 422 or err.namespace_terminating:
            raise
        refused = err
    else:
        left = drift_paths(desired, applied)
        if not left:
            return applied
        log.warning("%s: apply left %s different (%s); replacing its lists with ours", where, kind.kind, left[:5])
        api.merge_patch(kind, desired, manager=REPAIR_MANAGER)
        if repaired is not None:
            repaired.append(kind)
        return api.apply(kind, desired)
    _check_desired_is_valid(api, kind, desired, refused)
    log.warning("%s: apply of %s refused (%s); replacing its lists with ours", where, kind.kind, refused)
    try:
        api.merge_patch(kind, desired, manager=REPAIR_MANAGER)
    except ApplyError as err:
        if err.status != 422:
            raise
        log.warning("%s: %s cannot be patched back (%s); recreating it", where, kind.kind, err)
        if recreate is not None:
            meta = desired["metadata"]
            live = api.get(kind, meta["namespace"], meta["name"])
            if live is not None:
                recreate(live)
        else:
            _delete_and_recreate(api, kind, desired)
    if repaired is not None:
        repaired.append(kind)
    return api.apply(kind, desired)
