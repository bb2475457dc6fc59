"""This worker's OCR service: loads the model once, reports readiness, hands out the pipeline.

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
from typing import Any

from . import metrics
from .config import DetectionConfig, OcrConfig
from .cpus import threads_per_worker
from .detection.base import LineDetector
from .errors import NotReady
from .offload import run_native
from .pipeline import OcrPipeline
from .recognition.recognizer import Recognizer

log = logging.getLogger("ocr_server.service")

DetectorFactory = Callable[[DetectionConfig], LineDetector]
RecognizerLoader = Callable[..., Recognizer]


def _default_detector_factory(cfg: DetectionConfig) -> LineDetector:
    from .detection import create_detector

    return create_detector(cfg)


def _default_recognizer_loader(*args: Any, **kwargs: Any) -> Recognizer:
    from .recognition.recognizer import load_recognizer

    return load_recognizer(*args, **kwargs)


class OcrService:
    """Owns the worker's recognizer and detector; thread-safe after :meth:`load` returns."""

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
        self._pipeline: OcrPipeline | None = None
        self._recognizer: Recognizer | None = None
        self.error: str | None = None
        self.load_seconds: float | None = None
        metrics.MODEL_READY.set(0)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def recognizer(self) -> Recognizer | None:
        return self._recognizer

    def load(self) -> None:
        """Load, warm up and mark ready; on failure keep the error for ``/ready`` and log it."""
        t0 = time.perf_counter()
        model = self.config.model
        rec = self.config.recognition

        def build() -> tuple[Recognizer, OcrPipeline]:
            import cv2

            cv2.setNumThreads(self.inference_threads)
            recognizer = self._recognizer_loader(
                model.name,
                model.version,
                model.models_dir,
                decoder=rec.decoder,
                beam_width=rec.beam_width,
                batch_size=rec.batch_size,
                threads=self.inference_threads,
            )
            pipeline = OcrPipeline(self.config, self._detector_factory(self.config.detection), recognizer)
            pipeline.warmup()
            return recognizer, pipeline

        try:
            # the heavy part on a native thread: under gevent the hub keeps serving /health meanwhile
            recognizer, pipeline = run_native(build)
        except Exception as err:
            self.error = f"model {model.name}-{model.version} failed to load: {err}"
            log.exception("model load failed", extra={"fields": {"model": f"{model.name}-{model.version}"}})
            self._finished.set()
            return
        self._recognizer, self._pipeline = recognizer, pipeline
        self.load_seconds = round(time.perf_counter() - t0, 3)
        metrics.MODEL_INFO.labels(name=recognizer.info.name, version=recognizer.info.version).set(1)
        metrics.MODEL_READY.set(1)
        self._ready.set()
        self._finished.set()
        log.info(
            "model ready",
            extra={
                "fields": {
                    "model": f"{recognizer.info.name}-{recognizer.info.version}",
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

    def pipeline(self) -> OcrPipeline:
        """The pipeline, or :class:`NotReady` (503) while loading or after a failed load."""
        if self._pipeline is None:
            raise NotReady(self.error or "the model is still loading", retry_after=5)
        return self._pipeline
