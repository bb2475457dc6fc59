"""The OcrService operator: turns one ``OcrService`` into a running, reachable OCR service.

Reconcile path: kopf event (``handlers``) → typed spec (``spec``, models checked by ``catalog``) →
pure manifests stamped with their hash (``builders``, ``revision``) → server-side apply, repaired
where apply cannot merge a hand edit back (``apply``, ``repair``) → per-child failures (``failures``)
→ pure status (``status``) → status patch, log line, Event (``reconcile``, ``events``).  The RBAC the
calls need is listed in ``permissions``.  This package is importable without a cluster: only
``apply``/``repair``/``events``/``reconcile``/``handlers`` talk to Kubernetes.
"""
