"""I/O: post the operator's Events on an OcrService, never into a namespace being deleted.

Why not ``kopf.event``: kopf posts from a background queue, logs an ERROR for every Event a
terminating namespace refuses (40 lines for one namespace deletion) and, at the WARNING posting
level, also turns each retry's "handler failed" line into an Event, so one failure became an Event
per retry.  The operator switches kopf's posting off and posts exactly the Events it decides on.

A namespace that refused an Event because it is terminating (or is gone) is remembered for a while,
so the many children dying with it cost no further requests and no log noise.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ocr_operator.errors import ApplyError
from ocr_operator.status import EventSpec

if TYPE_CHECKING:
    from ocr_operator.apply import KubeApi

log = logging.getLogger("ocr_operator")

COMPONENT = "ocr-operator"
# A terminating namespace is gone within minutes; a namespace re-created under the same name later
# gets its Events again.
TERMINATING_MEMORY_SECONDS = 300.0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_body(involved: Mapping[str, Any], event: EventSpec, now: str, instance: str = COMPONENT) -> dict[str, Any]:
    """A core/v1 Event about ``involved`` (an OcrService), as ``kubectl describe`` shows it."""
    meta = involved.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": involved.get("apiVersion"),
            "kind": involved.get("kind"),
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
        },
        "type": event.type,
        "reason": event.reason,
        "message": event.message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


class EventRecorder:
    """Callable ``(involved, EventSpec)`` sink for :class:`~ocr_operator.reconcile.Reconciler`."""

    def __init__(self, api: KubeApi, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self._clock = clock
        self._lock = threading.Lock()
        self._terminating: dict[str, float] = {}  # namespace → when it refused
        self.posted = 0
        self.skipped = 0

    def _is_terminating(self, namespace: str) -> bool:
        with self._lock:
            since = self._terminating.get(namespace)
            if since is None:
                return False
            if self._clock() - since > TERMINATING_MEMORY_SECONDS:
                del self._terminating[namespace]
                return False
            return True

    def __call__(self, involved: Mapping[str, Any], event: EventSpec) -> None:
        meta = involved.get("metadata") or {}
        namespace = meta["namespace"]
        if meta.get("deletionTimestamp") or self._is_terminating(namespace):
            self.skipped += 1
            return
        try:
            self.api.create_event(namespace, event_body(involved, event, _now()))
        except ApplyError as err:
            if err.namespace_terminating or err.status == 404:
                with self._lock:
                    self._terminating[namespace] = self._clock()
                self.skipped += 1
                log.debug("%s: namespace going away, Event %s dropped", namespace, event.reason)
                return
            # An Event is a courtesy; the status carries the same facts. Never fail a reconcile for it.
            log.warning("%s/%s: could not post Event %s: %s", namespace, meta.get("name"), event.reason, err)
            return
        self.posted += 1

    def namespace_terminating(self, namespace: str) -> None:
        """Note a namespace the API server called terminating (an apply was refused there)."""
        with self._lock:
            self._terminating[namespace] = self._clock()
