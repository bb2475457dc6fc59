"""Model canaries (``OcrService.spec.canary``): a second Deployment with another model beside the
stable one, a traffic split, an analysis of both tracks' metrics, promotion and automatic rollback.

- ``plan``: PURE, spec + the status so far → what canary children must exist (and with what weight);
- ``metrics``: PURE, Prometheus text → per-pod counters → per-track error rate and p95 over a window;
- ``analysis``: PURE, the verdict (pass / fail / inconclusive) and the progress-deadline rule;
- ``state``: PURE, ``status.canary``, the ``Canary`` condition, ``status.history`` and their Events;
- ``scrape``: I/O, the pods of each track and their ``/metrics`` through the API server's pod proxy;
- ``loop``: the periodic analysis of one OcrService (memory of samples, the rollback decision).

The children themselves are built in ``ocr_operator.builders.canary`` (pure) and applied by the
``Reconciler`` through the same apply path as every other child.
"""
