"""The OcrService operator: turns one ``OcrService`` into a running, reachable OCR service.

Reconcile path: kopf event (``handlers``) → typed spec (``spec``) → pure manifests (``builders``) →
server-side apply (``apply``) → pure status (``status``) → status patch, log line, Event
(``reconcile`` ties them together).  This package is importable without a cluster: only
``apply``/``reconcile``/``handlers`` talk to Kubernetes.
"""
