"""PURE: is the canary worse than the stable pods?  And has it had its chance to become ready?

The rules (Flagger's and Argo Rollouts' analysis, in one place):

- fewer than ``minRequests`` canary requests in the window: **inconclusive**, never a rollback (a canary
  without traffic proves nothing);
- **fail** when the canary's error rate is above ``maxErrorRate`` *and* above the stable's in the
  same window (errors both tracks get, such as bad uploads, do not blame the canary; a stable without
  requests in the window counts as 0 %);
- **fail** when the canary's p95 is above ``maxP95Ms``, or above ``maxP95LatencyRatio`` times the
  stable's p95 (the ratio only when the stable has ``minRequests`` too: no baseline, no ratio);
- else **pass**.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ocr_operator.canary.metrics import TrackStats
from ocr_operator.spec import CanaryAnalysis

Verdict = Literal["Pass", "Fail", "Inconclusive"]


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    message: str
    canary: TrackStats
    stable: TrackStats


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f} %"


def judge(rules: CanaryAnalysis, canary: TrackStats, stable: TrackStats) -> Judgement:
    """The verdict on one window of both tracks' figures, with a message that quotes them."""
    figures = (
        f"canary {canary.requests} requests, errors {_pct(canary.error_rate)}, p95 {canary.p95_ms} ms; "
        f"stable {stable.requests} requests, errors {_pct(stable.error_rate)}, p95 {stable.p95_ms} ms"
    )
    if canary.requests < rules.min_requests:
        return Judgement(
            "Inconclusive", f"{canary.requests} < minRequests {rules.min_requests} ({figures})", canary, stable
        )
    failures = []
    canary_rate = canary.error_rate or 0.0
    stable_rate = stable.error_rate or 0.0
    if canary_rate > rules.max_error_rate and canary_rate > stable_rate:
        failures.append(
            f"error rate {_pct(canary_rate)} above maxErrorRate {_pct(rules.max_error_rate)} "
            f"and the stable's {_pct(stable_rate)}"
        )
    if canary.p95_ms is not None:
        if rules.max_p95_ms is not None and canary.p95_ms > rules.max_p95_ms:
            failures.append(f"p95 {canary.p95_ms} ms above maxP95Ms {rules.max_p95_ms}")
        ratio = rules.max_p95_latency_ratio
        if (
            ratio is not None
            and stable.p95_ms
            and stable.requests >= rules.min_requests
            and canary.p95_ms > ratio * stable.p95_ms
        ):
            failures.append(f"p95 {canary.p95_ms} ms above {ratio} x the stable's {stable.p95_ms} ms")
    if failures:
        return Judgement("Fail", "; ".join(failures) + f" ({figures})", canary, stable)
    return Judgement("Pass", figures, canary, stable)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def deadline_exceeded(started_at: str | None, now: str, deadline_seconds: int, ready: int, replicas: int) -> bool:
    """Whether a canary that should have ``replicas`` ready pods still lacks some ``deadline_seconds``
    after it started (``started_at``/``now``: RFC 3339).  A canary of 0 replicas has nothing to wait for."""
    if started_at is None or replicas <= 0 or ready >= replicas:
        return False
    return (_parse_time(now) - _parse_time(started_at)).total_seconds() > deadline_seconds
