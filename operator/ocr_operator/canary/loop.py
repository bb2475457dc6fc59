"""The periodic analysis of one canary: scrape both tracks, keep a short memory of samples per pod,
and judge the last window (``analysis.judge``).

Scraping and the maths are injected (``pods``, ``metrics``), so a unit test drives the whole loop,
rollback included, with a fake metrics source.  Samples live in memory only: after an operator
restart the first window is simply shorter (an analysis needs two scrapes of a pod).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ocr_operator.builders.meta import CANARY_TRACK, STABLE_TRACK, Owner
from ocr_operator.canary.analysis import Judgement, judge
from ocr_operator.canary.metrics import PodCounters, Sample, TrackStats, merge, parse_metrics, window_increase
from ocr_operator.canary.scrape import PodRef
from ocr_operator.errors import ApplyError
from ocr_operator.spec import CanaryAnalysis

log = logging.getLogger("ocr_operator")

PodLister = Callable[[Owner], list[PodRef]]
MetricsSource = Callable[[str, str], str]  # (namespace, pod) → Prometheus text
# Samples kept per pod: enough for the longest window at the shortest interval, within reason.
MAX_SAMPLES = 64


@dataclass
class _Memory:
    fingerprint: str | None = None
    last_run: float | None = None
    samples: dict[str, deque[Sample]] = field(default_factory=dict)  # pod → samples, oldest first


class CanaryAnalyst:
    """Per-OcrService memory of scrapes, and the analysis of one window."""

    def __init__(self, pods: PodLister, metrics: MetricsSource, clock: Callable[[], float] = time.monotonic) -> None:
        self.pods = pods
        self.metrics = metrics
        self.clock = clock
        self._guard = threading.Lock()
        self._memory: dict[str, _Memory] = {}

    def forget(self, uid: str) -> None:
        with self._guard:
            self._memory.pop(uid, None)

    def due(self, uid: str, interval: float) -> bool:
        """Whether the analysis of ``uid`` is due (and, if so, note that it runs now)."""
        now = self.clock()
        with self._guard:
            memory = self._memory.setdefault(uid, _Memory())
            if memory.last_run is not None and now - memory.last_run < interval:
                return False
            memory.last_run = now
            return True

    def _scrape(self, owner: Owner) -> dict[str, tuple[str, PodCounters]]:
        """pod → (track, counters) for every pod that answered."""
        try:
            pods = self.pods(owner)
        except ApplyError as err:
            log.warning("%s/%s: canary analysis could not list pods: %s", owner.namespace, owner.name, err)
            return {}
        out = {}
        for pod in pods:
            if pod.track not in (STABLE_TRACK, CANARY_TRACK):
                continue
            try:
                out[pod.name] = (pod.track, parse_metrics(self.metrics(owner.namespace, pod.name)))
            except (ApplyError, ValueError) as err:
                log.debug("%s: no metrics from pod %s: %s", owner.namespace, pod.name, err)
        return out

    def analyse(self, owner: Owner, fingerprint: str | None, rules: CanaryAnalysis) -> Judgement | None:
        """Scrape once and judge the window; ``None`` until some pod has two samples."""
        scraped = self._scrape(owner)
        now = self.clock()
        with self._guard:
            memory = self._memory.setdefault(owner.uid, _Memory())
            if memory.fingerprint != fingerprint:  # another canary: its predecessor's samples say nothing
                memory.samples.clear()
                memory.fingerprint = fingerprint
            for pod in list(memory.samples):
                if pod not in scraped:
                    del memory.samples[pod]  # gone (or not answering): its counters end with it
            tracks: dict[str, list[PodCounters]] = {STABLE_TRACK: [], CANARY_TRACK: []}
            compared = False
            for pod, (track, counters) in scraped.items():
                samples = memory.samples.setdefault(pod, deque(maxlen=MAX_SAMPLES))
                samples.append(Sample(now, counters))
                increase = window_increase(list(samples), rules.window_seconds)
                if increase is not None:
                    tracks[track].append(increase)
                    compared = True
        if not compared:
            return None
        return judge(rules, TrackStats.of(merge(tracks[CANARY_TRACK])), TrackStats.of(merge(tracks[STABLE_TRACK])))
