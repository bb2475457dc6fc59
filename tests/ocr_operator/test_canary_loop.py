"""The canary loop through the Reconciler, against a fake API and a fake metrics source: the canary
starts, becomes ready, is analysed from its pods' /metrics, and a worse canary (or one never ready)
is rolled back: Deployment deleted, status and history written, one Event posted, one log line."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ocr_operator.builders import DEPLOYMENT
from ocr_operator.canary.loop import CanaryAnalyst
from ocr_operator.reconcile import Reconciler
from ocr_operator.status import EventSpec
from tests.ocr_operator.canary_helpers import FakeMetrics
from tests.ocr_operator.helpers import OWNER, FakeApi, owner_body

CANARY_DEPLOYMENT = "invoices-canary"
SPEC: dict[str, Any] = {
    "replicas": 2,
    "canary": {
        "model": {"version": "1.1.0"},
        "weight": 50,
        "analysis": {"intervalSeconds": 5, "windowSeconds": 10, "minRequests": 20, "progressDeadlineSeconds": 60},
    },
}


class Clock:
    def __init__(self) -> None:
        self.seconds = 0.0

    def wall(self) -> str:
        minutes, seconds = divmod(int(self.seconds), 60)
        return f"2026-05-01T10:{minutes:02d}:{seconds:02d}Z"

    def mono(self) -> float:
        return self.seconds


class Loop:
    """A reconciler with a fake API and fake pods; ``body()`` is the OcrService as kopf would hand it."""

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self.api = FakeApi()
        self.clock = Clock()
        self.metrics = FakeMetrics()
        self.events: list[EventSpec] = []
        analyst = CanaryAnalyst(self.metrics.list_pods, self.metrics.metrics, clock=self.clock.mono)
        self.rec = Reconciler(
            self.api,
            post_event=lambda _body, event: self.events.append(event),
            clock=self.clock.wall,
            analyst=analyst,
            gateway_api=lambda _api: False,
        )
        self.spec = spec or SPEC
        for pod, track in (("s1", "stable"), ("s2", "stable"), ("c1", "canary"), ("c2", "canary")):
            self.metrics.add(pod, track)

    def status(self) -> dict[str, Any]:
        return self.rec._last_status.get(OWNER.uid) or {}

    def body(self) -> dict[str, Any]:
        return owner_body(self.spec, status=self.status())

    def applied(self, name: str) -> dict[str, Any]:
        return next(
            m for verb, kind, _, m in reversed(self.api.calls) if verb == "apply" and m["metadata"]["name"] == name
        )

    def canary_ready(self, ready: int = 2) -> None:
        live = {**self.applied(CANARY_DEPLOYMENT), "status": {"readyReplicas": ready, "availableReplicas": ready}}
        self.rec.on_canary_child_event(self.body(), DEPLOYMENT, CANARY_DEPLOYMENT, live)

    def tick(self, advance: float = 0.0) -> None:
        self.clock.seconds += advance
        self.rec.canary_tick(self.body())

    def deleted(self) -> list[str]:
        return [f"{kind}/{name}" for verb, kind, name, _ in self.api.calls if verb == "delete"]


def start(loop: Loop) -> None:
    loop.rec.reconcile(loop.body(), {})
    canary = loop.applied(CANARY_DEPLOYMENT)
    assert canary["spec"]["replicas"] == 2
    assert loop.status()["canary"]["state"] == "Progressing"
    loop.canary_ready()
    assert loop.status()["canary"]["state"] == "Serving"


def test_a_canary_returning_errors_is_rolled_back_by_the_analysis(caplog: pytest.LogCaptureFixture) -> None:
    loop = Loop()
    start(loop)
    loop.tick()  # the first scrape: a baseline, no verdict
    assert "analysis" not in loop.status()["canary"] and loop.metrics.scrapes == 4
    loop.tick(2)  # not due yet (intervalSeconds 5): no scrape
    assert loop.metrics.scrapes == 4
    loop.metrics.serve(["s1", "s2"], ok=30)
    loop.metrics.serve(["c1", "c2"], ok=15, errors=15)
    with caplog.at_level(logging.INFO, logger="ocr_operator"):
        loop.tick(4)
    status = loop.status()
    assert status["canary"]["state"] == "RolledBack"
    analysis = status["canary"]["analysis"]
    assert analysis["verdict"] == "Fail" and analysis["canaryRequests"] == 60 and analysis["stableRequests"] == 60
    assert float(analysis["canaryErrorRate"]) == 0.5 and float(analysis["stableErrorRate"]) == 0.0
    assert f"Deployment/{CANARY_DEPLOYMENT}" in loop.deleted()
    canary_condition = next(c for c in status["conditions"] if c["type"] == "Canary")
    assert (canary_condition["status"], canary_condition["reason"]) == ("False", "Degraded")
    assert status["history"][-1]["reason"] == "rolledBack" and status["history"][-1]["model"] == "crnn-en-1.1.0"
    rolled = [e for e in loop.events if e.reason == "CanaryRolledBack"]
    assert len(rolled) == 1 and rolled[0].type == "Warning" and "error rate 50.0 %" in rolled[0].message
    lines = [r.getMessage() for r in caplog.records if "CanaryRolledBack" in r.getMessage()]
    assert len(lines) == 1 and lines[0].startswith(
        "default/invoices: CanaryRolledBack: canary crnn-en-1.1.0 rolled back"
    )

    # it stays rolled back: no more scrapes, no second Event, the deletion is not undone
    scrapes, calls = loop.metrics.scrapes, len(loop.api.calls)
    loop.tick(10)
    loop.rec.reconcile(loop.body(), {})
    assert loop.metrics.scrapes == scrapes
    assert not [c for c in loop.api.calls[calls:] if c[0] == "apply" and c[3]["metadata"]["name"] == CANARY_DEPLOYMENT]
    assert len([e for e in loop.events if e.reason == "CanaryRolledBack"]) == 1


def test_a_healthy_canary_passes_and_keeps_serving() -> None:
    loop = Loop()
    start(loop)
    loop.tick()
    loop.metrics.serve(["s1", "s2", "c1", "c2"], ok=20, errors=0)
    loop.tick(5)
    status = loop.status()
    assert status["canary"]["state"] == "Serving" and status["canary"]["analysis"]["verdict"] == "Pass"
    assert f"Deployment/{CANARY_DEPLOYMENT}" not in loop.deleted()
    assert not [e for e in loop.events if e.type == "Warning"]


def test_too_few_requests_are_inconclusive_never_a_rollback() -> None:
    loop = Loop()
    start(loop)
    loop.tick()
    loop.metrics.serve(["c1"], ok=0, errors=5)  # 5 requests, all failed: below minRequests
    loop.tick(5)
    assert loop.status()["canary"]["analysis"]["verdict"] == "Inconclusive"
    assert loop.status()["canary"]["state"] == "Serving" and f"Deployment/{CANARY_DEPLOYMENT}" not in loop.deleted()


def test_a_canary_never_ready_is_rolled_back_at_its_progress_deadline() -> None:
    loop = Loop()
    loop.rec.reconcile(loop.body(), {})
    loop.canary_ready(ready=0)  # e.g. its bundle fails the golden-set gate: /ready stays 503
    loop.tick(30)
    assert loop.status()["canary"]["state"] == "Progressing" and f"Deployment/{CANARY_DEPLOYMENT}" not in loop.deleted()
    loop.tick(31)
    status = loop.status()
    assert status["canary"]["state"] == "RolledBack"
    assert "0/2 canary pods ready after progressDeadlineSeconds (60 s)" in status["canary"]["message"]
    assert f"Deployment/{CANARY_DEPLOYMENT}" in loop.deleted()
    assert [e.reason for e in loop.events].count("CanaryRolledBack") == 1


def test_without_auto_rollback_a_failing_canary_is_reported_not_removed() -> None:
    spec = {**SPEC, "canary": {**SPEC["canary"], "autoRollback": False}}
    loop = Loop(spec)
    start(loop)
    loop.tick()
    loop.metrics.serve(["s1", "s2"], ok=30)
    loop.metrics.serve(["c1", "c2"], ok=0, errors=30)
    loop.tick(5)
    status = loop.status()
    assert status["canary"]["state"] == "Serving" and f"Deployment/{CANARY_DEPLOYMENT}" not in loop.deleted()
    assert next(c for c in status["conditions"] if c["type"] == "Canary")["reason"] == "AnalysisFailed"
    assert [e.reason for e in loop.events].count("CanaryAnalysisFailed") == 1


def test_a_canary_model_its_image_lacks_is_refused_before_anything_rolls() -> None:
    from ocr_operator.catalog import ModelCatalog
    from ocr_operator.spec import DEFAULT_IMAGE_REPOSITORY, DEFAULT_IMAGE_TAG

    loop = Loop({**SPEC, "canary": {**SPEC["canary"], "model": {"version": "9.9.9"}}})
    image = f"{DEFAULT_IMAGE_REPOSITORY}:{DEFAULT_IMAGE_TAG}"
    loop.rec.catalog = ModelCatalog.parse(f'{{"{image}": ["crnn-en-1.6.0", "crnn-en-1.1.0"]}}')
    outcome = loop.rec.reconcile(loop.body(), {})
    assert outcome.problem is not None and outcome.problem.reason == "UnknownModel"
    assert outcome.problem.message.startswith("canary: model crnn-en-9.9.9 is not bundled")
    assert not [c for c in loop.api.calls if c[0] == "apply"]


def test_after_a_restart_the_main_ingress_stays_on_the_stable_track_before_the_first_reconcile() -> None:
    """A child event can come before the resume reconcile: the plan is then read from the status."""
    from ocr_operator.builders import INGRESS
    from ocr_operator.canary.plan import fingerprint
    from ocr_operator.spec import parse_spec

    spec = {**SPEC, "ingress": {"enabled": True, "host": "ocr.example.com"}}
    loop = Loop(spec)
    fp = fingerprint(parse_spec(spec), None)
    status = {"model": "crnn-en-1.6.0", "canary": {"model": "crnn-en-1.1.0", "state": "Serving", "fingerprint": fp}}
    body = owner_body(spec, status=status)
    loop.rec.on_child_event(body, INGRESS, None)  # deleted while the operator was away
    (ingress,) = [m for verb, kind, _, m in loop.api.calls if verb == "apply" and kind == "Ingress"]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "invoices-stable"
