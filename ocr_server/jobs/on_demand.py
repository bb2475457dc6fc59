"""The model a page task reads with: the worker's configured ones, or an installed bundle loaded on demand.

Why on demand: a job is pinned at submission to an exact ``name:version``
(:mod:`~ocr_server.jobs.pinning`).  When an ``OcrService`` changes its model, API pods and workers
roll together, so for a while old workers take pages pinned to the new version and, once the old
workers are gone, new workers take pages still queued for the old one.  Every bundle the image ships
is installed in each worker (``models/``), so the worker loads the pinned one, checks its golden
set as at start-up, and reads with exactly it: no page fails and none is read with another model.
Only a bundle that is not installed (a custom image, a worker configured unlike the API server)
leaves the page to be handed back to the queue (:func:`~ocr_server.jobs.pinning.hand_back_delay`).

At most :data:`MAX_EXTRA` such models stay loaded per pool process (least recently used dropped
first): each costs tens of MB, and a roll-out needs one.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from ..recognition.registry import ModelNotFoundError
from ..service import LoadedModel, OcrService
from . import metrics
from .errors import ModelUnavailable
from .pinning import PinnedModel, pick_loaded

log = logging.getLogger("ocr_server.jobs")

MAX_EXTRA = 2


class OnDemandModels:
    """Per pool process: the extra models loaded for pinned jobs (thread-safe; Celery's prefork pool
    runs one task at a time per process, but a threads pool would not)."""

    def __init__(self, max_extra: int = MAX_EXTRA) -> None:
        self.max_extra = max_extra
        self._extra: OrderedDict[PinnedModel, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def loaded(self) -> list[PinnedModel]:
        """The extra models held now, least recently used first."""
        return list(self._extra)

    def pick(self, service: OcrService, pinned: PinnedModel | None) -> LoadedModel:
        """The model to read a page of a job pinned to ``pinned`` with (``None``: the default).

        Raises :class:`ModelUnavailable` when the worker neither has it configured nor installed, or
        when the installed bundle fails its golden set (it would misread)."""
        models = service.models
        try:
            return models[pick_loaded([m.info for m in models], pinned)]
        except ModelUnavailable as missing:
            assert pinned is not None  # the default is always among the configured models
            with self._lock:
                if pinned in self._extra:
                    self._extra.move_to_end(pinned)
                    return self._extra[pinned]
                chosen = self._load(service, pinned, missing)
                self._extra[pinned] = chosen
                while len(self._extra) > self.max_extra:
                    dropped, _ = self._extra.popitem(last=False)
                    log.info("on-demand model dropped", extra={"fields": {"model": str(dropped)}})
                return chosen

    @staticmethod
    def _load(service: OcrService, pinned: PinnedModel, missing: ModelUnavailable) -> LoadedModel:
        try:
            chosen = service.build_model(pinned.name, pinned.version)
        except ModelNotFoundError:
            raise ModelUnavailable(f"{missing.message}; nor is it installed here") from None
        if not chosen.golden.passed:
            raise ModelUnavailable(f"the job's model {pinned} misreads its golden set here: {chosen.golden.reason}")
        metrics.MODELS_LOADED_ON_DEMAND.labels(model=str(pinned)).inc()
        log.info("model loaded on demand for a pinned job", extra={"fields": {"model": str(pinned)}})
        return chosen
