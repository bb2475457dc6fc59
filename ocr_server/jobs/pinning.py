"""Which model a job reads with: resolved once at submission, pinned in the job record.

Why pin at submission rather than resolve per page: a job may wait in the queue for minutes and its
pages run on several workers.  Resolving ``?model=crnn-en`` on each page would let a roll-out that
changes the default (or adds a newer version) read one job partly with one version and partly with
another.  So the API resolves the request's ``model`` once, against the models the server's config
loads (the default plus ``model.additional``, by the very rule of ``/api/v1/ocr``:
:func:`~ocr_server.model_choice.choose_model`), and the job record keeps the exact
``name:version``.  A page task reads with exactly that model (configured, or its installed bundle
loaded on demand: :mod:`.on_demand`), or fails the page with ``model_unavailable`` when no worker
that has it takes the page in ``jobs.modelWaitSeconds`` (it is handed back to the queue meanwhile):
never silently with another one.

Pure (no Redis, Flask or Celery), so the rules are unit-tested on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..config import ModelSelection
from ..errors import UnknownModel
from ..model_choice import Named, choose_model
from .errors import ModelUnavailable


@dataclass(frozen=True)
class PinnedModel:
    """The exact model a job was submitted for."""

    name: str
    version: str

    def __str__(self) -> str:
        """``name:version``: how the job record stores it and how ``?model=`` names it exactly."""
        return f"{self.name}:{self.version}"

    @classmethod
    def parse(cls, stored: str) -> PinnedModel:
        """Back from the record's ``name:version`` (a model name never holds a colon)."""
        name, _, version = stored.partition(":")
        return cls(name, version)

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


def configured_models(selection: ModelSelection) -> list[Named]:
    """The models a server or worker with this config loads, the default first (``OcrService``'s order)."""
    return [selection, *selection.additional]


def resolve(selection: ModelSelection, value: str | None) -> PinnedModel:
    """The exact model ``?model=value`` asks for among those ``selection`` loads (``None``: the default).

    Raises :class:`~ocr_server.errors.UnknownModel` (400), naming the loaded ones, as ``/api/v1/ocr`` does."""
    models = configured_models(selection)
    chosen = models[choose_model(models, value)]
    return PinnedModel(chosen.name, chosen.version)


HAND_BACK_SECONDS = 2.0
"""How long a worker holds a page it cannot read before it puts it back in the queue.  Held, not put
back with a Celery countdown: a countdown (ETA) message is reserved in the memory of whichever worker
fetches it, often the same one, again and again.  Holding it keeps this worker's only prefetch slot
busy, so the page goes back straight to a worker that is waiting for work, and one that has the
model gets it within a few rounds."""


def hand_back_delay(waited: float, budget: float) -> float | None:
    """Seconds until a page whose worker lacks its model is offered again, or None: give up.

    Why hand back rather than fail: a worker without the bundle installed (a custom image, workers
    configured unlike the API server; the shipped image has every version, loaded on demand) may
    share the queue with one that has it, as during a roll-out to such an image.  Failing those pages
    would lose them to a routine roll-out; another worker will read them.  ``budget``
    (``jobs.modelWaitSeconds``) bounds the wait from the job's submission, so a model no worker will
    ever load still ends in a clear error."""
    left = budget - waited
    if left <= 0:
        return None
    return min(HAND_BACK_SECONDS, left)


def pick_loaded(loaded: Sequence[Named], pinned: PinnedModel | None) -> int:
    """Index into ``loaded`` (a worker's models, the default first) of the job's pinned model.

    ``None`` (a job recorded before models were pinned) reads with the default, as it would have then.
    A pinned model this worker has not loaded raises :class:`ModelUnavailable` naming both sides."""
    if pinned is None:
        return 0
    try:
        return choose_model(loaded, str(pinned))
    except UnknownModel:
        have = ", ".join(f"{m.name}:{m.version}" for m in loaded) or "none"
        raise ModelUnavailable(
            f"the job asks for model {pinned}, which this worker does not load (it loads: {have}); "
            "give the workers the same model config as the API server"
        ) from None
