"""The recognizer the server calls: crops in, ``(text, confidence)`` out, batched on ONNX Runtime.

Crops are sorted by width and batched so little padding is computed; results come back in the
caller's order.  ONNX Runtime is used because it measured fastest on CPU (see the model card) and
keeps torch out of the serving image.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..config import DEFAULT_REREAD_BELOW
from . import casing, reread
from .charset import Charset
from .ctc import beam_decode, greedy_decode, greedy_frames
from .lines import is_blank, pad_batch, prepare_line
from .registry import ModelBundle


@dataclass(frozen=True)
class LineResult:
    """A line's reading.  ``frames``: per character of ``text``, ``(first, last, confidence)`` CTC
    frames (empty when unknown, e.g. beam search changed the text); ``frame_px``: crop pixels per frame."""

    text: str
    confidence: float
    frames: tuple[tuple[int, int, float], ...] = ()
    frame_px: float = 0.0


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    input_height: int
    num_classes: int
    # BCP 47 tag of what the model reads (model.json ``language``, e.g. "zh-Hans"); None: unstated
    language: str | None = None


class Recognizer:
    """Thread-safe: ONNX Runtime sessions may be run concurrently; no per-request state is stored."""

    def __init__(
        self,
        bundle: ModelBundle,
        *,
        decoder: str = "greedy",
        beam_width: int = 5,
        batch_size: int = 32,
        threads: int = 0,
        consistent_case: bool = True,
        reread_below: float = DEFAULT_REREAD_BELOW,
    ) -> None:
        import onnxruntime as ort  # imported here so that importing the package stays light

        self.bundle = bundle
        self.charset = Charset.from_file(bundle.charset_file)
        self.decoder = decoder
        self.beam_width = beam_width
        self.batch_size = batch_size
        self.consistent_case = consistent_case  # casing.consistent_case on every reading
        # lines read with a lower mean confidence are read again at other widths (reread.py); 0: never
        self.reread_below = reread_below
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle intra-op threads sleep instead of spin-waiting.  Measured with a training job sharing
        # the 2 cores (a busy node): 3.8 vs 5.0 ms/line at batch, 3.6 vs 6.4 ms single, and half the
        # CPU time per line; spinning also inflates the CPU usage the HPA scales on.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(bundle.onnx_file), opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        out_classes = self._session.get_outputs()[0].shape[-1]
        if isinstance(out_classes, int) and out_classes != self.charset.num_classes:
            raise ValueError(
                f"model {bundle.full_name}: network emits {out_classes} classes, charset has {self.charset.num_classes}"
            )
        language = bundle.meta.get("language")
        self.info = ModelInfo(
            bundle.name,
            bundle.version,
            bundle.input_height,
            self.charset.num_classes,
            language if isinstance(language, str) and language else None,
        )

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Raw ``(N, T, C)`` softmax output for an already prepared batch."""
        return self._session.run(None, {self._input: batch})[0]

    def _decode(self, probs: np.ndarray, frame_px: float = 0.0) -> LineResult:
        if self.decoder == "beam":
            text, conf = beam_decode(probs, self.charset, self.beam_width)
        else:
            text, conf = greedy_decode(probs, self.charset)
        frames = greedy_frames(probs, self.charset)
        if self.decoder == "beam" and greedy_decode(probs, self.charset)[0] != text:
            frames = ()  # beam search read something else than the best path: positions unknown
        if self.consistent_case and frames:
            text = casing.consistent_case(text, probs, frames, self.charset)
        return LineResult(text, round(conf, 4), frames, frame_px)

    def recognize(self, crops: list[np.ndarray]) -> list[LineResult]:
        """Recognise line crops (gray or BGR uint8); raises ``LineImageError`` for an unusable crop."""
        if not crops:
            return []
        prepared = [prepare_line(c, self.info.input_height) for c in crops]
        results: list[LineResult | None] = [None] * len(prepared)
        for i, x in enumerate(prepared):
            if is_blank(x):
                results[i] = LineResult("", 1.0)
        todo = [i for i, r in enumerate(results) if r is None]
        for i, result in zip(todo, self._read([prepared[i] for i in todo], [crops[i] for i in todo]), strict=True):
            results[i] = result
        read = [r for r in results if r is not None]  # every crop has its reading now
        return self._reread(crops, prepared, read) if self.reread_below > 0 else read

    def _read(self, prepared: list[np.ndarray], crops: list[np.ndarray]) -> list[LineResult]:
        """Run the network over prepared lines, batched by width, results in their order."""
        results: list[LineResult | None] = [None] * len(prepared)
        order = sorted(range(len(prepared)), key=lambda i: prepared[i].shape[1])
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            probs = self.probabilities(pad_batch([prepared[i] for i in idx]))
            for j, i in enumerate(idx):
                # frames beyond this line's own width only saw padding
                frames = max(1, int(np.ceil(prepared[i].shape[1] / self.downsample)))
                frame_px = self.downsample * crops[i].shape[1] / prepared[i].shape[1]
                results[i] = self._decode(probs[j, :frames], frame_px)
        return [r for r in results if r is not None]

    def _reread(self, crops: list[np.ndarray], prepared: list[np.ndarray], first: list[LineResult]) -> list[LineResult]:
        """``first`` with each unsure reading replaced by a surer one of the same crop at other widths."""
        unsure = [i for i, r in enumerate(first) if r.confidence < self.reread_below]
        if not unsure:
            return first
        jobs = [(i, factor) for i in unsure for factor in reread.SCALES]
        again = self._read([reread.rescaled(prepared[i], f) for i, f in jobs], [crops[i] for i, _ in jobs])
        best = list(first)
        for (i, _), other in zip(jobs, again, strict=True):
            if other.confidence > best[i].confidence:
                text = reread.keep_capitals(first[i].text, other.text)
                best[i] = LineResult(text, other.confidence, other.frames, other.frame_px)
        return best

    @property
    def downsample(self) -> int:
        return int(self.bundle.meta.get("width_downsample", 4))

    def warmup(self) -> None:
        """One small inference so the first user request does not pay for lazy initialisation.

        The crop carries a few dark bars: a blank one would be answered without the network."""
        crop = np.full((self.info.input_height, 128), 255, dtype=np.uint8)
        crop[8:24, 8:120:12] = 0
        self.recognize([crop])


def load_recognizer(
    name: str,
    version: str,
    models_dir: str | None = None,
    *,
    decoder: str = "greedy",
    beam_width: int = 5,
    batch_size: int = 32,
    threads: int = 0,
    consistent_case: bool = True,
    reread_below: float = DEFAULT_REREAD_BELOW,
) -> Recognizer:
    """Resolve ``name``/``version`` in the models folder and open it."""
    from .registry import resolve_model

    bundle = resolve_model(name, version, models_dir)
    return Recognizer(
        bundle,
        decoder=decoder,
        beam_width=beam_width,
        batch_size=batch_size,
        threads=threads,
        consistent_case=consistent_case,
        reread_below=reread_below,
    )
