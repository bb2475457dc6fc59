"""The one error type of the I/O layer, and how an API error maps onto it.

Kept apart from ``apply`` so the repair strategies (``repair``) and the Event recorder (``events``)
can raise and read it without importing the apply layer.
"""

from __future__ import annotations

import json

from kubernetes.client.rest import ApiException


class ApplyError(Exception):
    """An API call failed. ``permanent``: the request itself is wrong (the spec must change), so
    retrying would only storm the API server; otherwise a later retry may succeed."""

    def __init__(
        self, message: str, *, permanent: bool, status: int | None = None, namespace_terminating: bool = False
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status
        # The namespace is being deleted with everything in it: nothing to restore, nothing to report.
        self.namespace_terminating = namespace_terminating


def api_error(action: str, err: ApiException) -> ApplyError:
    detail, causes = err.reason or "", []
    try:
        body = json.loads(err.body or "{}")
        detail = body.get("message") or detail
        causes = (body.get("details") or {}).get("causes") or []
    except (TypeError, ValueError, AttributeError):
        pass
    terminating = any(c.get("reason") == "NamespaceTerminating" for c in causes)
    # 400/422: the object is invalid; retrying the same request cannot help.  A 403 may be a quota
    # or an RBAC rule someone will fix, a 5xx a full IP range or a busy server: retried with back-off.
    permanent = err.status in (400, 422) and not terminating
    return ApplyError(
        f"{action}: {err.status} {detail}".strip(),
        permanent=permanent,
        status=err.status,
        namespace_terminating=terminating,
    )
