"""This worker's OCR service: loads the model(s) once, reports readiness, hands out the pipeline.

Loading happens in the worker process (gunicorn never preloads the app), in a background thread
(a greenlet under gevent, whose heavy part runs on a native thread: :func:`~.offload.run_native`),
so ``/health`` answers while the model loads and ``/ready`` turns 200 only once the model is
loaded *and* warmed.  A load failure is kept and reported by ``/ready`` and in the log instead of
crashing the worker into a restart loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import metrics
from .config import DetectionConfig, OcrConfig
from .cpus import threads_per_worker
from .detection.base import LineDetector
from .errors import NotReady
from .model_choice import choose_model
from .offload import run_native
from .pipeline import OcrPipeline
from .recognition.recognizer import ModelInfo, Recognizer

log = logging.getLogger("ocr_server.service")

DetectorFactory = Callable[[DetectionConfig], LineDetector]
RecognizerLoader = Callable[..., Recognizer]


def _default_detector_factory(cfg: DetectionConfig) -> LineDetector:
    from .detection import create_detector

    return create_detector(cfg)


def _default_recognizer_loader(*args: Any, **kwargs: Any) -> Recognizer:
    from .recognition.recognizer import load_recognizer

    return load_recognizer(*args, **kwargs)


@dataclass(frozen=True)
class LoadedModel:
    """One loaded bundle and the pipeline that reads with it (all pipelines share the detector)."""

    recognizer: Recognizer
    pipeline: OcrPipeline

    @property
    def info(self) -> ModelInfo:
        return self.recognizer.info


class OcrService:
    """Owns the worker's recognizers and detector; thread-safe after :meth:`load` returns.

    The default model (``model.name``/``model.version``) comes first, then ``model.additional``;
    a request picks one with :meth:`select` (see :mod:`ocr_server.model_choice`)."""

    def __init__(
        self,
        config: OcrConfig,
        *,
        detector_factory: DetectorFactory = _default_detector_factory,
        recognizer_loader: RecognizerLoader = _default_recognizer_loader,
    ) -> None:
        self.config = config
        self.inference_threads = threads_per_worker(config.recognition.threads, config.server.workers)
        self._detector_factory = detector_factory
        self._recognizer_loader = recognizer_loader
        self._ready = threading.Event()
        self._finished = threading.Event()  # set after the load attempt, success or not
        self._models: tuple[LoadedModel, ...] = ()
        self.error: str | None = None
        self.load_seconds: float | None = None
        metrics.MODEL_READY.set(0)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def recognizer(self) -> Recognizer | None:
        """The default model's recognizer (``None`` until loaded)."""
        return self._models[0].recognizer if self._models else None

    @property
    def models(self) -> tuple[LoadedModel, ...]:
        """Every loaded model, the default first (empty until loaded)."""
        return self._models

    def _wanted(self) -> list[tuple[str, str]]:
        model = self.config.model
        return [(model.name, model.version)] + [(m.name, m.version) for m in model.additional]

    def load(self) -> None:
        """Load, warm up and mark ready; on failure keep the error for ``/ready`` and log it.

        Every configured model must load: a server that silently lacks one of its languages would
        answer its requests with 400 ``unknown_model`` while reporting ready."""
        t0 = time.perf_counter()
        model = self.config.model
        rec = self.config.recognition
        wanted = self._wanted()
        current = f"{model.name}-{model.version}"

        def build() -> tuple[LoadedModel, ...]:
            nonlocal current
            import cv2

            cv2.setNumThreads(self.inference_threads)
            detector = self._detector_factory(self.config.detection)
            loaded = []
            for name, version in wanted:
                current = f"{name}-{version}"
                recognizer = self._recognizer_loader(
                    name,
                    version,
                    model.models_dir,
                    decoder=rec.decoder,
                    beam_width=rec.beam_width,
                    batch_size=rec.batch_size,
                    threads=self.inference_threads,
                )
                pipeline = OcrPipeline(self.config, detector, recognizer)
                pipeline.warmup()
                loaded.append(LoadedModel(recognizer, pipeline))
            return tuple(loaded)

        try:
            # the heavy part on a native thread: under gevent the hub keeps serving /health meanwhile
            models = run_native(build)
        except Exception as err:
            self.error = f"model {current} failed to load: {err}"
            log.exception("model load failed", extra={"fields": {"model": current}})
            self._finished.set()
            return
        self._models = models
        self.load_seconds = round(time.perf_counter() - t0, 3)
        for m in models:
            metrics.MODEL_INFO.labels(name=m.info.name, version=m.info.version).set(1)
        metrics.MODEL_READY.set(1)
        self._ready.set()
        self._finished.set()
        log.info(
            "model ready",
            extra={
                "fields": {
                    "model": f"{models[0].info.name}-{models[0].info.version}",
                    "additional_models": [f"{m.info.name}-{m.info.version}" for m in models[1:]],
                    "load_seconds": self.load_seconds,
                    "inference_threads": self.inference_threads,
                }
            },
        )

    def start_loading(self) -> threading.Thread:
        """Load in a daemon thread so the worker serves ``/health`` meanwhile."""
        thread = threading.Thread(target=self.load, name="ocr-model-loader", daemon=True)
        thread.start()
        return thread

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the load attempt ends (tests use this); ``True`` when the model is ready."""
        self._finished.wait(timeout)
        return self.ready

    def select(self, model: str | None = None) -> LoadedModel:
        """The loaded model a request's ``model`` parameter asks for (``None``: the default).

        :class:`NotReady` (503) while loading or after a failed load; :class:`~ocr_server.errors.UnknownModel`
        (400) for a model this server has not loaded."""
        if not self._models:
            raise NotReady(self.error or "the model is still loading", retry_after=5)
        return self._models[choose_model([m.info for m in self._models], model)]

    def pipeline(self, model: str | None = None) -> OcrPipeline:
        """The pipeline of :meth:`select`'s model."""
        return self.select(model).pipeline
