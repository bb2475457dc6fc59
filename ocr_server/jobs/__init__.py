"""Asynchronous batch OCR: ``/api/v1/jobs`` on Redis + Celery.

Why this shape:

* ``store``: the job record, the uploaded page bytes and the per-page results live in Redis under
  one hash tag per job, all with the configured TTL: any server pod can answer any job and no pod's
  disk holds user images.  Page results are written with ``HSETNX`` (in one Lua script), so a page
  run twice (a worker killed after writing, before acknowledging) still appears once.
* ``celery_app`` / ``tasks``: one Celery task per page running the very ``OcrPipeline`` the
  synchronous endpoint runs; ``acks_late`` + ``reject_on_worker_lost`` + prefetch 1, so a page held by
  a worker that dies goes back to the queue instead of being lost.
* ``api``: the Flask blueprint; ``worker``: ``python -m ocr_server.jobs.worker`` (Celery worker plus
  its Prometheus endpoint).

Only ``api`` imports Flask; only ``celery_app``/``tasks``/``worker`` import Celery.
"""
