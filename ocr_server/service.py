"""This worker's OCR service: loads the model(s) once, reports readiness, hands out the pipeline.

Loading happens in the worker process (gunicorn never preloads the app), in a background thread
(a greenlet under gevent, whose heavy part runs on a native thread: :func:`~.offload.run_native`),
so ``/health`` answers while the model loads and ``/ready`` turns 200 only once every model is
loaded, warmed *and* has read its bundle's golden set within the bound of its model card
(:mod:`.recognition.golden`: a model can load fine and still misread).  A load failure or a failed
golden set is kept and reported by ``/ready`` and in the log instead of crashing the worker into a
restart loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from . import metrics
from .config import DetectionConfig, OcrConfig
from .cpus import threads_per_worker
from .detection.base import LineDetector
from .errors import GoldenSetFailed, NotReady
from .faults import FaultInjection
from .model_choice import choose_model
from .offload import run_native
from .pipeline import OcrPipeline
from .recognition.golden import GoldenResult, check_bundle
from .recognition.recognizer import ModelInfo, Recognizer

log = logging.getLogger("ocr_server.service")

# (detection settings, the model's BCP 47 language or None) -> a detector shaped for that script
DetectorFactory = Callable[[DetectionConfig, str | None], LineDetector]
RecognizerLoader = Callable[..., Recognizer]


def _default_detector_factory(cfg: DetectionConfig, language: str | None) -> LineDetector:
    from .detection import create_detector

    return create_detector(cfg, language)


def _default_recognizer_loader(*args: Any, **kwargs: Any) -> Recognizer:
    from .recognition.recognizer import load_recognizer

    return load_recognizer(*args, **kwargs)


@dataclass(frozen=True)
class LoadedModel:
    """One loaded bundle and the pipeline that reads with it (all pipelines share the detector)."""

    recognizer: Recognizer
    pipeline: OcrPipeline
    golden: GoldenResult  # its bundle's golden set, read at load

    @property
    def info(self) -> ModelInfo:
        return self.recognizer.info


def judge(results: list[tuple[str, GoldenResult]]) -> GoldenResult:
    """One verdict for the worker from each model's (``name-version``, result), the default first:
    the first failure, its reason naming the model when there are several, else the default's."""
    for name, result in results:
        if not result.passed:
            if len(results) > 1:
                return replace(result, reason=f"model {name}: {result.reason}")
            return result
    return results[0][1]


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
        faults: FaultInjection | None = None,
    ) -> None:
        self.config = config
        self.faults = faults or FaultInjection()
        self.inference_threads = threads_per_worker(config.recognition.threads, config.server.workers)
        self._detector_factory = detector_factory
        self._recognizer_loader = recognizer_loader
        self._ready = threading.Event()
        self._finished = threading.Event()  # set after the load attempt, success or not
        self._models: tuple[LoadedModel, ...] = ()
        self.error: str | None = None
        self.golden: GoldenResult | None = None  # every model's golden sets, judged together, once loaded
        self.load_seconds: float | None = None
        metrics.MODEL_READY.set(0)
        metrics.GOLDEN_PASSED.set(0)

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
        """Load, warm up, read the golden sets and mark ready; on failure keep the error (or the
        golden verdict) for ``/ready`` and log it.

        Every configured model must load and pass its golden set: a server that silently lacks one
        of its languages, or misreads it, must not report ready."""
        t0 = time.perf_counter()
        model = self.config.model
        wanted = self._wanted()
        current = f"{model.name}-{model.version}"

        def build() -> tuple[LoadedModel, ...]:
            nonlocal current
            import cv2

            cv2.setNumThreads(self.inference_threads)
            loaded = []
            for name, version in wanted:
                current = f"{name}-{version}"
                loaded.append(self.build_model(name, version))
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
        self.golden = golden = judge([(f"{m.info.name}-{m.info.version}", m.golden) for m in models])
        self.load_seconds = round(time.perf_counter() - t0, 3)
        for m in models:
            metrics.MODEL_INFO.labels(name=m.info.name, version=m.info.version).set(1)
        metrics.GOLDEN_CER.set(max((m.golden.cer or 0.0) for m in models))
        metrics.GOLDEN_PASSED.set(1 if golden.passed else 0)
        if not golden.passed:
            # loaded but unfit to serve: /ready and the OCR endpoints answer 503 golden_failed
            log.error(
                "golden set failed: the worker stays unready",
                extra={
                    "fields": {"model": f"{models[0].info.name}-{models[0].info.version}", "golden": golden.to_json()}
                },
            )
            self._finished.set()
            return
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
                    "golden": golden.to_json(),
                }
            },
        )

    def build_model(self, name: str, version: str) -> LoadedModel:
        """Load, warm and golden-check one installed bundle with this service's settings (not added
        to :attr:`models`; :meth:`load` does that for the configured ones).  Raises
        :class:`~ocr_server.recognition.registry.ModelNotFoundError` when it is not installed."""
        rec = self.config.recognition
        recognizer = self._recognizer_loader(
            name,
            version,
            self.config.model.models_dir,
            threads=self.inference_threads,
            **rec.recognizer_options(),
        )
        # each model its own detector: line shapes follow the script it reads (CJK vs Latin)
        detector = self._detector_factory(self.config.detection, recognizer.info.language)
        pipeline = OcrPipeline(self.config, detector, recognizer)
        pipeline.warmup()
        # a stand-in recognizer without a bundle (tests) has no golden set: reported "absent"
        bundle = getattr(recognizer, "bundle", None)
        golden = check_bundle(recognizer, bundle, corrupt_expected=self.faults.golden_fail)
        return LoadedModel(recognizer, pipeline, golden)

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
        if self.golden is not None and not self.golden.passed:
            raise GoldenSetFailed(self.golden.reason)
        if not self._models:
            raise NotReady(self.error or "the model is still loading", retry_after=5)
        return self._models[choose_model([m.info for m in self._models], model)]

    def pipeline(self, model: str | None = None) -> OcrPipeline:
        """The pipeline of :meth:`select`'s model."""
        return self.select(model).pipeline
