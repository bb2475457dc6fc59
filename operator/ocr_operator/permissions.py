"""PURE: every API permission the operator needs, and why: the single list the Helm chart's
(Cluster)Role must equal (tests/chart compares them, and a test against the API server runs the
operator under exactly that role and checks every call it made was granted).

Two sources of calls:
- kopf, for the watches and its own bookkeeping: list/watch of OcrServices and of every child kind
  (the jobs-only PVC and KEDA ScaledObject included: hand edits and deletions are restored at once),
  patch of OcrServices (its progress annotations); update of ``ocrservices/finalizers`` because
  children carry ``blockOwnerDeletion``, which the OwnerReferencesPermissionEnforcement admission
  plugin only allows to whoever may update the owner's finalizers.  kopf's own Event posting is off.
- the operator's client (``apply.KubeApi``), which records each (group, resource, verb) it uses.
"""

from __future__ import annotations

from ocr_operator.builders import CANARY_ONLY_KINDS, CHILD_KINDS, JOBS_ONLY_KINDS
from ocr_operator.spec import GROUP, PLURAL

Permission = tuple[str, str, str]  # (API group, resource, verb)

# Why each verb on a child: get (fresh read before restoring, Deployment replacement), create (the
# first server-side apply of a child, and the dry-run create that tells an invalid spec from a
# wedged child in ``repair``), patch (server-side apply, and the merge patch in ``repair``), delete
# (children the spec disabled, the Deployment selector migration, and the last-resort recreate of a
# child that can be neither applied nor patched back), list/watch (kopf's child watches).  The same
# for the kinds only ``spec.jobs`` adds (the Redis PVC, the KEDA ScaledObject): the same apply path,
# deleted when jobs are disabled, and watched like the others.
CHILD_VERBS = ("get", "list", "watch", "create", "patch", "delete")
WATCHED_KINDS = (*CHILD_KINDS, *JOBS_ONLY_KINDS)
# ``spec.canary``: the HTTPRoute (Gateway API, where served) is addressed by name (get, create, patch;
# delete when the canary or the route goes), never listed or watched; the server pods of both tracks
# are listed (by label) and their /metrics read through the API server's pod proxy (``pods/proxy``
# get) for the canary analysis.
CANARY_ONLY_VERBS = ("get", "create", "patch", "delete")
CANARY_ANALYSIS: frozenset[tuple[str, str, str]] = frozenset({("", "pods", "list"), ("", "pods/proxy", "get")})

KOPF: frozenset[Permission] = frozenset(
    {
        (GROUP, PLURAL, "list"),
        (GROUP, PLURAL, "watch"),
        (GROUP, PLURAL, "patch"),
        (GROUP, f"{PLURAL}/finalizers", "update"),
        *((kind.group, kind.plural, verb) for kind in WATCHED_KINDS for verb in ("list", "watch")),
    }
)

CLIENT: frozenset[Permission] = frozenset(
    {
        (GROUP, f"{PLURAL}/status", "patch"),
        ("", "events", "create"),
        *(
            (kind.group, kind.plural, verb)
            for kind in WATCHED_KINDS
            for verb in CHILD_VERBS
            if verb not in ("list", "watch")
        ),
        *((kind.group, kind.plural, verb) for kind in CANARY_ONLY_KINDS for verb in CANARY_ONLY_VERBS),
        *CANARY_ANALYSIS,
    }
)

REQUIRED: frozenset[Permission] = KOPF | CLIENT


def parse_rules(rules: list[dict[str, list[str]]]) -> set[Permission]:
    """Flatten RBAC rules (``apiGroups`` x ``resources`` x ``verbs``) into permissions."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule.get("apiGroups") or []
        for resource in rule.get("resources") or []
        for verb in rule.get("verbs") or []
    }


def parse_used(calls: list[str]) -> set[Permission]:
    """The liveness probe's ``apiCalls`` entries (``group/resource:verb``) as permissions."""
    out = set()
    for call in calls:
        where, verb = call.rsplit(":", 1)
        group, resource = where.split("/", 1)
        out.add((group, resource, verb))
    return out
