"""The apply and reconcile layers against a fake API: which calls happen, in which situation."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest

from ocr_operator import apply
from ocr_operator.apply import HANDOVER_MANAGER, ApplyError, apply_children, owns_replicas
from ocr_operator.builders import CONFIGMAP, DEPLOYMENT, HPA, INGRESS, build_children
from ocr_operator.builders.meta import FIELD_MANAGER, MODEL_ANNOTATION, MODEL_VERSION_ANNOTATION
from ocr_operator.reconcile import Reconciler
from ocr_operator.spec import parse_spec
from ocr_operator.status import EventSpec
from ocr_server.config import DEFAULT_MODEL_NAME, DEFAULT_MODEL_VERSION
from tests.ocr_operator.helpers import OWNER, FakeApi, owner_body

DEFAULT_MODEL = f"{DEFAULT_MODEL_NAME}-{DEFAULT_MODEL_VERSION}"

NOW = "2024-05-01T10:00:00Z"
NO_CHILDREN: dict[Any, Any] = {}


class Events:
    def __init__(self) -> None:
        self.posted: list[EventSpec] = []

    def __call__(self, body: Any, event: EventSpec) -> None:
        assert body["metadata"]["uid"] == OWNER.uid
        self.posted.append(event)


def reconciler(api: FakeApi) -> tuple[Reconciler, Events]:
    """A reconciler whose full reconcile of generation 1 already ran (child events of a generation not
    yet reconciled report nothing: see test_truth)."""
    events = Events()
    rec = Reconciler(api, post_event=events, clock=lambda: NOW)
    rec._state(OWNER.uid).generation = 1
    return rec, events


def managed(replicas_owner: str | None) -> dict[str, Any]:
    fields = {"f:spec": {"f:replicas": {}}} if replicas_owner else {"f:spec": {}}
    return {
        "metadata": {
            "managedFields": [{"manager": replicas_owner or FIELD_MANAGER, "operation": "Apply", "fieldsV1": fields}]
        },
        "spec": {"replicas": 4},
    }


def applied_kinds(api: FakeApi) -> list[tuple[str, str]]:
    return [(verb, kind) for verb, kind, *_ in api.calls]


def test_first_reconcile_applies_every_child_and_reports_status(fake_api: FakeApi) -> None:
    rec, events = reconciler(fake_api)
    outcome = rec.reconcile(owner_body({"ingress": {"enabled": True, "host": "ocr.example.com"}}), NO_CHILDREN)
    assert outcome.problem is None
    assert applied_kinds(fake_api) == [
        ("apply", "ConfigMap"),
        ("apply", "Service"),
        ("apply", "Deployment"),
        ("apply", "Ingress"),
    ]
    assert all(call[2] == FIELD_MANAGER for call in fake_api.calls)
    (status,) = fake_api.statuses
    assert status["url"] == "http://ocr.example.com/"
    assert {c["type"]: c["reason"] for c in status["conditions"]}["Ready"] == "RollingOut"
    assert [e.reason for e in events.posted] == ["RolloutStarted"]


def test_disabled_children_are_deleted_only_when_they_exist(fake_api: FakeApi) -> None:
    children = build_children(OWNER, parse_spec({}))
    apply_children(fake_api, OWNER, children, {INGRESS: {"metadata": {}}, HPA: None}, None)
    assert ("delete", "Ingress") in applied_kinds(fake_api)
    assert ("delete", "HorizontalPodAutoscaler") not in applied_kinds(fake_api)


def test_owns_replicas_reads_managed_fields() -> None:
    assert owns_replicas(managed(FIELD_MANAGER))
    assert not owns_replicas(managed("kube-controller-manager"))
    assert not owns_replicas(managed(None))


def test_enabling_autoscaling_hands_replicas_over_before_dropping_them(fake_api: FakeApi) -> None:
    spec = parse_spec({"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 3}})
    apply_children(fake_api, OWNER, build_children(OWNER, spec), {DEPLOYMENT: managed(FIELD_MANAGER)}, (2, 3))
    deployment_calls = [c for c in fake_api.calls if c[1] == "Deployment"]
    (_, _, manager, body), (_, _, manager2, body2) = deployment_calls
    assert manager == HANDOVER_MANAGER and body["spec"] == {"replicas": 3}  # 4 clamped to maxReplicas
    assert manager2 == FIELD_MANAGER and "replicas" not in body2["spec"]


def test_lagging_cache_is_checked_before_dropping_replicas(fake_api: FakeApi) -> None:
    """The index has no Deployment yet, but the cluster has one whose replicas we own."""
    fake_api.objects[("Deployment", "invoices")] = managed(FIELD_MANAGER)
    spec = parse_spec({"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 6}})
    apply_children(fake_api, OWNER, build_children(OWNER, spec), NO_CHILDREN, (2, 6))
    deployment_calls = [(c[0], c[2]) for c in fake_api.calls if c[1] == "Deployment"]
    assert deployment_calls == [("get", "invoices"), ("apply", HANDOVER_MANAGER), ("apply", FIELD_MANAGER)]


def test_new_autoscaled_deployment_starts_at_min_replicas(fake_api: FakeApi) -> None:
    spec = parse_spec({"autoscaling": {"enabled": True, "minReplicas": 3}})
    live = apply_children(fake_api, OWNER, build_children(OWNER, spec), NO_CHILDREN, (3, 10)).live
    deployment_calls = [
        (c[2], c[3]["spec"].get("replicas")) for c in fake_api.calls if c[1] == "Deployment" and c[0] == "apply"
    ]
    assert deployment_calls == [(FIELD_MANAGER, None), (HANDOVER_MANAGER, 3)]
    assert live[DEPLOYMENT]["spec"]["replicas"] == 3
    assert ("apply", "HorizontalPodAutoscaler") in applied_kinds(fake_api)


def test_hpa_already_owning_replicas_means_a_plain_apply(fake_api: FakeApi) -> None:
    spec = parse_spec({"autoscaling": {"enabled": True}})
    apply_children(
        fake_api, OWNER, build_children(OWNER, spec), {DEPLOYMENT: managed("kube-controller-manager")}, (2, 10)
    )
    assert [c[2] for c in fake_api.calls if c[1] == "Deployment"] == [FIELD_MANAGER]


# A Deployment made by an operator version whose (immutable) selector included app.kubernetes.io/name.
LEGACY_SELECTOR = {"matchLabels": {"app.kubernetes.io/name": "ocr-crnn", "app.kubernetes.io/instance": "invoices"}}
LEGACY_UID = "99999999-8888-7777-6666-555555555555"


def legacy_deployment(replicas: int = 2) -> dict[str, Any]:
    dep = build_children(OWNER, parse_spec({})).deployment
    dep["metadata"]["uid"] = LEGACY_UID
    dep["spec"]["selector"] = LEGACY_SELECTOR
    dep["spec"]["replicas"] = replicas
    return dep


def test_changed_selector_replaces_the_deployment_and_keeps_its_pods(fake_api: FakeApi) -> None:
    """spec.selector is immutable: the old Deployment is deleted with its ReplicaSets orphaned (the
    new one adopts them and rolls them over), then the new one is applied."""
    legacy = legacy_deployment()
    fake_api.objects[("Deployment", "invoices")] = legacy
    children = build_children(OWNER, parse_spec({}))
    live = apply_children(fake_api, OWNER, children, {DEPLOYMENT: legacy}, None).live
    calls = [
        (verb, extra if verb == "delete" else None) for verb, kind, _, extra in fake_api.calls if kind == "Deployment"
    ]
    # Confirmed on a fresh read (the copy may be stale), deleted, gone, applied.
    assert calls == [("get", None), ("delete", {"orphan": True, "uid": LEGACY_UID}), ("get", None), ("apply", None)]
    assert live[DEPLOYMENT]["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/instance": "invoices", "app.kubernetes.io/component": "ocr-server"}
    }


def test_unchanged_selector_or_unknown_selector_is_a_plain_apply(fake_api: FakeApi) -> None:
    children = build_children(OWNER, parse_spec({}))
    slim_without_selector = {"metadata": {"name": "invoices", "namespace": "default"}, "spec": {}}
    for live in (copy.deepcopy(children.deployment), slim_without_selector):
        fake_api.calls.clear()
        apply_children(fake_api, OWNER, children, {DEPLOYMENT: live}, None)
        assert [c[0] for c in fake_api.calls if c[1] == "Deployment"] == ["apply"]


def test_replaced_autoscaled_deployment_keeps_its_replica_count(fake_api: FakeApi) -> None:
    legacy = legacy_deployment(replicas=5)
    fake_api.objects[("Deployment", "invoices")] = legacy
    spec = parse_spec({"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 10}})
    live = apply_children(fake_api, OWNER, build_children(OWNER, spec), {DEPLOYMENT: legacy}, (2, 10)).live
    applies = [(c[2], c[3]["spec"].get("replicas")) for c in fake_api.calls if c[:2] == ("apply", "Deployment")]
    assert applies == [(FIELD_MANAGER, None), (HANDOVER_MANAGER, 5)]  # not reset to minReplicas
    assert live[DEPLOYMENT]["spec"]["replicas"] == 5


def test_slow_replacement_is_retried_not_reported(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    """The old Deployment lingers (the garbage collector orphans its ReplicaSets first): a retryable
    error, and no second delete while it is terminating."""
    monkeypatch.setattr(apply, "REPLACE_WAIT_SECONDS", 0.0)
    legacy = legacy_deployment()
    monkeypatch.setattr(fake_api, "delete", lambda *a, **kw: True)  # accepted, but still there
    fake_api.objects[("Deployment", "invoices")] = legacy
    rec, _ = reconciler(fake_api)
    with pytest.raises(ApplyError) as err:
        rec.reconcile(owner_body({}), {DEPLOYMENT: legacy})
    assert not err.value.permanent and "still being replaced" in str(err.value)
    terminating = copy.deepcopy(legacy)
    terminating["metadata"]["deletionTimestamp"] = NOW
    fake_api.objects[("Deployment", "invoices")] = terminating
    monkeypatch.setattr(fake_api, "delete", lambda *a, **kw: pytest.fail("deleted twice"))
    with pytest.raises(ApplyError):
        rec.reconcile(owner_body({}, generation=2), {DEPLOYMENT: terminating})


def test_invalid_spec_is_reported_not_applied(fake_api: FakeApi) -> None:
    rec, events = reconciler(fake_api)
    outcome = rec.reconcile(owner_body({"resources": {"requests": {"cpu": "4"}}}), NO_CHILDREN)
    assert outcome.problem is not None and outcome.problem.reason == "InvalidSpec"
    assert fake_api.calls == []
    degraded = next(c for c in fake_api.statuses[0]["conditions"] if c["type"] == "Degraded")
    assert degraded["status"] == "True" and "exceeds resources.limits.cpu" in degraded["message"]
    assert [(e.type, e.reason) for e in events.posted] == [("Warning", "InvalidSpec")]


def test_rejected_apply_is_permanent_and_transient_errors_propagate(fake_api: FakeApi) -> None:
    rec, _ = reconciler(fake_api)
    invalid = ApplyError("apply Deployment default/invoices: 422 invalid", permanent=True, status=422)
    fake_api.fail_apply = invalid
    fake_api.dry_run_error = invalid  # the desired object itself is invalid: no repair
    outcome = rec.reconcile(owner_body({}), NO_CHILDREN)
    assert outcome.problem is not None and outcome.problem.reason == "ApplyFailed"
    assert not [c for c in fake_api.calls if c[0] == "merge-patch"]
    fake_api.fail_apply = ApplyError("apply ConfigMap: 503", permanent=False, status=503)
    with pytest.raises(ApplyError):
        rec.reconcile(owner_body({}, generation=2), NO_CHILDREN)
    # Reported before raising: the retry is not the only trace.
    degraded = next(c for c in fake_api.statuses[-1]["conditions"] if c["type"] == "Degraded")
    assert degraded["status"] == "True" and "503" in degraded["message"]


def test_paused_applies_nothing_but_reports(fake_api: FakeApi) -> None:
    rec, _ = reconciler(fake_api)
    assert rec.reconcile(owner_body({"paused": True}), NO_CHILDREN).problem is None
    assert fake_api.calls == [] and len(fake_api.statuses) == 1


def _live_deployment(spec: dict[str, Any], **status: int) -> dict[str, Any]:
    dep = build_children(OWNER, parse_spec(spec)).deployment
    dep["metadata"]["generation"] = 1
    dep["status"] = {"observedGeneration": 1, **status}
    return dep


def test_child_event_without_drift_makes_no_api_write(fake_api: FakeApi) -> None:
    rec, _ = reconciler(fake_api)
    configmap = build_children(OWNER, parse_spec({})).configmap
    rec.on_child_event(owner_body({}), CONFIGMAP, configmap)
    assert fake_api.calls == [] and fake_api.statuses == []


def test_deleted_child_is_restored_and_edited_child_corrected(fake_api: FakeApi) -> None:
    rec, events = reconciler(fake_api)
    rec.on_child_event(owner_body({}), INGRESS, None)  # disabled and gone: nothing to do
    assert fake_api.calls == []
    live = _live_deployment({}, replicas=2, updatedReplicas=2, availableReplicas=2, readyReplicas=2)
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:latest"
    fake_api.objects[("Deployment", "invoices")] = live
    rec.on_child_event(owner_body({}), DEPLOYMENT, live)
    assert applied_kinds(fake_api) == [("get", "Deployment"), ("apply", "Deployment")]  # drift confirmed first
    drift = [e for e in events.posted if e.reason == "DriftCorrected"]
    assert drift and "spec.template.spec.containers[0].image" in drift[0].message
    del fake_api.objects[("Deployment", "invoices")]
    rec.on_child_event(owner_body({}), DEPLOYMENT, None)
    assert [e.reason for e in events.posted if e.type == "Warning"] == ["DriftCorrected", "ChildRestored"]


def test_stale_child_events_are_checked_against_a_fresh_read(fake_api: FakeApi) -> None:
    """E.g. the events of a Deployment replaced to change its selector, arriving after the new one
    exists: no restore, no Warning."""
    rec, events = reconciler(fake_api)
    current = _live_deployment({}, replicas=2)
    fake_api.objects[("Deployment", "invoices")] = current
    old = copy.deepcopy(current)
    old["spec"]["selector"] = LEGACY_SELECTOR
    for stale in (None, old):  # its deletion event; an update from before it was replaced
        fake_api.calls.clear()
        rec.on_child_event(owner_body({}), DEPLOYMENT, stale)
        assert applied_kinds(fake_api) == [("get", "Deployment")]
    terminating = copy.deepcopy(old)
    terminating["metadata"]["deletionTimestamp"] = NOW
    fake_api.objects[("Deployment", "invoices")] = terminating
    fake_api.calls.clear()
    rec.on_child_event(owner_body({}), DEPLOYMENT, terminating)  # going: left to its deletion event
    assert applied_kinds(fake_api) == [("get", "Deployment")]
    assert [e for e in events.posted if e.type == "Warning"] == []


def test_rollout_line_logged_once_per_step(fake_api: FakeApi, caplog: pytest.LogCaptureFixture) -> None:
    rec, events = reconciler(fake_api)
    caplog.set_level(logging.INFO, logger="ocr_operator")
    steps = [(0, 0), (2, 0), (2, 0), (2, 1), (2, 2), (2, 2)]
    for updated, available in steps:
        dep = _live_deployment(
            {}, replicas=updated, updatedReplicas=updated, availableReplicas=available, readyReplicas=available
        )
        rec.on_child_event(owner_body({}), DEPLOYMENT, dep)
    lines = [r.getMessage() for r in caplog.records if "rollout" in r.getMessage()]
    assert lines == [
        f"default/invoices: rollout 0/2 updated, 0/2 available, model {DEFAULT_MODEL}",
        f"default/invoices: rollout 2/2 updated, 0/2 available, model {DEFAULT_MODEL}",
        f"default/invoices: rollout 2/2 updated, 1/2 available, model {DEFAULT_MODEL}",
        f"default/invoices: rollout 2/2 updated, 2/2 available, model {DEFAULT_MODEL} (complete)",
    ]
    # Status written only when it changed: 4 distinct states, not 6 events.
    assert len(fake_api.statuses) == 4
    assert fake_api.statuses[-1]["model"] == DEFAULT_MODEL
    assert [e.reason for e in events.posted] == ["RolloutStarted", "Ready"]


def _pod(name: str, version: str, terminating: bool = False, phase: str = "Running") -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "annotations": {MODEL_ANNOTATION: f"{DEFAULT_MODEL_NAME}-{version}", MODEL_VERSION_ANNOTATION: version},
    }
    if terminating:
        meta["deletionTimestamp"] = NOW
    return {"metadata": meta, "status": {"phase": phase}}


def _progressing(status: dict[str, Any]) -> tuple[str, str]:
    cond = next(c for c in status["conditions"] if c["type"] == "Progressing")
    return cond["status"], cond["reason"]


def test_model_switches_only_once_the_old_models_terminating_pods_are_gone(
    fake_api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    """The Deployment counts a terminating pod no more, yet it still answers (preStop sleep): the
    status keeps naming the old model until that pod is gone, and a timer tick (no Deployment event
    says so) switches it."""
    rec, events = reconciler(fake_api)
    caplog.set_level(logging.INFO, logger="ocr_operator")
    old = {"model": f"{DEFAULT_MODEL_NAME}-1.1.0", "modelVersion": "1.1.0"}
    body = owner_body({}, status=old)
    done = _live_deployment({}, replicas=2, updatedReplicas=2, availableReplicas=2, readyReplicas=2)
    done["metadata"]["resourceVersion"] = "10"  # remembered for the timer's ticks
    fake_api.pods = [
        _pod("invoices-old-a", "1.1.0", terminating=True),
        _pod("invoices-old-b", "1.1.0", phase="Succeeded"),  # finished: answers nothing
        _pod("invoices-new-a", DEFAULT_MODEL_VERSION),
        _pod("invoices-new-b", DEFAULT_MODEL_VERSION),
    ]
    rec.on_child_event(body, DEPLOYMENT, done)
    waiting = fake_api.statuses[-1]
    assert waiting.get("model", old["model"]) == old["model"]
    assert _progressing(waiting) == ("True", "TerminatingOldPods")
    assert "invoices-old-a" in next(c["message"] for c in waiting["conditions"] if c["type"] == "Progressing")
    assert any(c[:2] == ("list", "Pod") and c[2].endswith("/track=stable") for c in fake_api.calls)
    rec.settle_tick(body)  # still there: nothing changes
    assert fake_api.statuses[-1] is waiting  # no write
    fake_api.pods = fake_api.pods[2:]
    rec.settle_tick(body)
    assert fake_api.statuses[-1]["model"] == DEFAULT_MODEL
    assert _progressing(fake_api.statuses[-1]) == ("False", "RolloutComplete")
    assert "the previous model's pods are gone" in caplog.text
    # settled: later events of the same Deployment generation list no pods
    lists = sum(1 for c in fake_api.calls if c[:2] == ("list", "Pod"))
    rec.on_child_event(body, DEPLOYMENT, done)
    assert sum(1 for c in fake_api.calls if c[:2] == ("list", "Pod")) == lists
    assert [e.reason for e in events.posted].count("Ready") == 1


def test_pods_that_cannot_be_listed_do_not_hold_the_status(fake_api: FakeApi) -> None:
    rec, _ = reconciler(fake_api)
    fake_api.fail_list_pods = ApplyError("list pods: 403 forbidden", permanent=True, status=403)
    body = owner_body({}, status={"model": f"{DEFAULT_MODEL_NAME}-1.1.0", "modelVersion": "1.1.0"})
    done = _live_deployment({}, replicas=2, updatedReplicas=2, availableReplicas=2, readyReplicas=2)
    rec.on_child_event(body, DEPLOYMENT, done)
    assert fake_api.statuses[-1]["model"] == DEFAULT_MODEL


def _api_exception(status: int, body: dict[str, Any]) -> Any:
    from kubernetes.client.rest import ApiException

    err = ApiException(status=status, reason="x")
    err.body = json.dumps(body)
    return err


def test_api_errors_are_classified() -> None:
    from ocr_operator.errors import api_error as _api_error

    invalid = _api_error("apply", _api_exception(422, {"message": "Deployment is invalid"}))
    assert invalid.permanent and "422 Deployment is invalid" in str(invalid)
    busy = _api_error("apply", _api_exception(503, {"message": "unavailable"}))
    assert not busy.permanent
    quota = _api_error("apply", _api_exception(403, {"message": "exceeded quota: q, requested: services=1"}))
    assert not quota.permanent  # retried with back-off: quotas get raised
    terminating = _api_error(
        "apply",
        _api_exception(403, {"message": "forbidden", "details": {"causes": [{"reason": "NamespaceTerminating"}]}}),
    )
    assert terminating.namespace_terminating and not terminating.permanent


def test_terminating_namespace_is_not_reported(fake_api: FakeApi) -> None:
    rec, events = reconciler(fake_api)
    fake_api.fail_apply = ApplyError("apply: 403", permanent=False, status=403, namespace_terminating=True)
    assert rec.reconcile(owner_body({}), NO_CHILDREN).problem is None
    rec.on_child_event(owner_body({}), DEPLOYMENT, None)
    assert fake_api.statuses == [] and events.posted == []


def test_child_event_success_lines_are_filtered() -> None:
    from ocr_operator.handlers import _QuietChildEvents

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("kopf.objects", logging.INFO, __file__, 1, msg, None, None)

    quiet = _QuietChildEvents()
    assert not quiet.filter(record("Handler 'deployments_drift' succeeded."))
    assert quiet.filter(record("Handler 'reconcile_ocrservice' succeeded."))


def test_stale_deployment_events_do_not_move_the_status_backwards(fake_api: FakeApi) -> None:
    rec, _ = reconciler(fake_api)
    done = _live_deployment({}, replicas=2, updatedReplicas=2, availableReplicas=2, readyReplicas=2)
    done["metadata"]["resourceVersion"] = "120"
    rec.on_child_event(owner_body({}), DEPLOYMENT, done)
    stale = _live_deployment({}, replicas=2, updatedReplicas=0, availableReplicas=0, readyReplicas=0)
    stale["metadata"]["resourceVersion"] = "97"
    rec.on_child_event(owner_body({}), DEPLOYMENT, stale)
    assert len(fake_api.statuses) == 1
    assert {c["type"]: c["status"] for c in fake_api.statuses[0]["conditions"]}["Ready"] == "True"


def test_object_paths() -> None:
    from ocr_operator.apply import object_path
    from ocr_operator.builders import CONFIGMAP

    assert object_path(DEPLOYMENT, "ns", "x") == "/apis/apps/v1/namespaces/ns/deployments/x"
    assert object_path(CONFIGMAP, "ns", "x-config") == "/api/v1/namespaces/ns/configmaps/x-config"
    assert object_path(HPA, "ns", "x") == "/apis/autoscaling/v2/namespaces/ns/horizontalpodautoscalers/x"


def test_a_request_without_an_answer_is_a_retryable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib3

    from ocr_operator.apply import REQUEST_TIMEOUT, KubeApi

    class Hanging:
        def request(self, method: str, path: str, **params: Any) -> Any:
            assert params["_request_timeout"] == REQUEST_TIMEOUT
            raise urllib3.exceptions.ReadTimeoutError(None, path, "read timed out")  # type: ignore[arg-type]

    api = KubeApi(api_client=None)  # type: ignore[arg-type]
    api._dynamic = Hanging()  # type: ignore[assignment]
    with pytest.raises(ApplyError) as err:
        api.get(DEPLOYMENT, "ns", "x")
    assert not err.value.permanent and "no answer from the API server" in str(err.value)
