"""Status and Events that tell the truth (issue 14), on a fake API: a spec change is a rollout and
not drift, one Event per distinct failure, ``Ready``/``url`` only when the children are there, unknown
models refused, and Events kept out of terminating namespaces."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ocr_operator.apply import ApplyError
from ocr_operator.builders import DEPLOYMENT, SERVICE, build_children
from ocr_operator.catalog import CatalogError, ModelCatalog
from ocr_operator.events import EventRecorder
from ocr_operator.handlers import retry_delay
from ocr_operator.reconcile import Reconciler
from ocr_operator.revision import APPLIED_HASH_ANNOTATION, is_hand_edit, manifest_hash
from ocr_operator.spec import parse_spec
from ocr_operator.status import EventSpec
from tests.ocr_operator.helpers import OWNER, FakeApi, owner_body

NOW = "2024-05-01T10:00:00Z"
INGRESS_SPEC = {"ingress": {"enabled": True, "host": "ocr.example.com"}}


class Events:
    def __init__(self) -> None:
        self.posted: list[EventSpec] = []

    def __call__(self, body: Any, event: EventSpec) -> None:
        self.posted.append(event)

    def warnings(self) -> list[str]:
        return [e.reason for e in self.posted if e.type == "Warning"]


def reconciler(api: FakeApi, catalog: ModelCatalog | None = None) -> tuple[Reconciler, Events]:
    events = Events()
    return Reconciler(api, post_event=events, clock=lambda: NOW, catalog=catalog), events


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


# ---- rollout, not drift --------------------------------------------------------------------------


def test_the_hash_tells_a_hand_edit_from_a_spec_change() -> None:
    old = build_children(OWNER, parse_spec({})).configmap
    new = build_children(OWNER, parse_spec({"preprocessing": {"claheClipLimit": 3.5}})).configmap
    assert old["metadata"]["annotations"][APPLIED_HASH_ANNOTATION] == manifest_hash(old)
    assert manifest_hash(old) != manifest_hash(new)
    edited = copy.deepcopy(new)
    edited["data"]["config.yaml"] = "server: {workers: 64}\n"
    assert is_hand_edit(new, edited)  # applied for this spec, then changed
    assert not is_hand_edit(new, old)  # applied for the previous spec: a rollout
    legacy = copy.deepcopy(old)
    del legacy["metadata"]["annotations"]
    assert not is_hand_edit(new, legacy)  # no hash: never a false alarm


def test_a_spec_change_made_while_the_operator_was_down_is_applied_without_a_warning(fake_api: FakeApi) -> None:
    rec, events = reconciler(fake_api)
    old = build_children(OWNER, parse_spec({})).configmap
    fake_api.objects[("ConfigMap", "invoices-config")] = old
    body = owner_body({"preprocessing": {"claheClipLimit": 3.5}}, generation=2)
    rec.on_child_event(body, build_kind("ConfigMap"), old)  # the watch lists it on start-up
    assert [c[:2] for c in fake_api.calls] == [("get", "ConfigMap"), ("apply", "ConfigMap")]
    assert "claheClipLimit: 3.5" in fake_api.calls[-1][3]["data"]["config.yaml"]
    assert events.warnings() == []


def test_a_hand_edit_of_the_current_spec_is_drift(fake_api: FakeApi) -> None:
    rec, events = reconciler(fake_api)
    live = build_children(OWNER, parse_spec({})).configmap
    live["data"]["config.yaml"] = "server: {workers: 64}\n"
    fake_api.objects[("ConfigMap", "invoices-config")] = live
    rec.on_child_event(owner_body({}), build_kind("ConfigMap"), live)
    assert events.warnings() == ["DriftCorrected"]


def test_a_child_that_lost_its_labels_gets_them_back(fake_api: FakeApi) -> None:
    rec, events = reconciler(fake_api)
    live = build_children(OWNER, parse_spec({})).deployment
    del live["metadata"]["labels"]["app.kubernetes.io/managed-by"]
    fake_api.objects[("Deployment", "invoices")] = live
    rec.on_child_event(owner_body({}), DEPLOYMENT, live)
    applied = [c for c in fake_api.calls if c[:2] == ("apply", "Deployment")]
    assert applied and applied[-1][3]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "ocr-operator"
    (warning,) = [e for e in events.posted if e.type == "Warning"]
    assert warning.reason == "DriftCorrected" and "metadata.labels.app.kubernetes.io/managed-by" in warning.message


def build_kind(name: str) -> Any:
    from ocr_operator.builders import KINDS_BY_NAME

    return KINDS_BY_NAME[name]


# ---- failures on the object --------------------------------------------------------------------------


def quota() -> ApplyError:
    return ApplyError("apply Service default/invoices: 403 exceeded quota: q", permanent=False, status=403)


def test_a_transient_failure_is_on_the_status_with_one_event_per_distinct_failure(fake_api: FakeApi) -> None:
    rec, events = reconciler(fake_api)
    for _retry in range(3):  # kopf's retries
        fake_api.fail_kinds["Service"] = [quota()]
        with pytest.raises(ApplyError):
            rec.reconcile(owner_body({}), {})
    status = fake_api.statuses[-1]
    assert conditions(status)["Degraded"] == ("True", "ApplyFailed")
    assert conditions(status)["Ready"][0] == "False"
    assert "exceeded quota" in next(c for c in status["conditions"] if c["type"] == "Degraded")["message"]
    assert "url" not in status  # the Service does not exist
    assert events.warnings() == ["ApplyFailed"]  # not one per retry
    assert len(fake_api.statuses) == 1  # nor a status write per retry

    other = ApplyError(
        "apply Service default/invoices: 500 failed to allocate a serviceIP: range is full", permanent=False, status=500
    )
    fake_api.fail_kinds["Service"] = [other]
    with pytest.raises(ApplyError):
        rec.reconcile(owner_body({}), {})
    assert events.warnings() == ["ApplyFailed", "ApplyFailed"]  # a different failure: a new Event

    rec.reconcile(owner_body({}), {})  # the range has room again
    status = fake_api.statuses[-1]
    assert conditions(status)["Degraded"] == ("False", "AsExpected")
    assert status["url"] == "http://invoices.default.svc/"
    assert [e.reason for e in events.posted][-1] == "Recovered"


def test_a_refused_ingress_means_no_url_and_not_ready(fake_api: FakeApi) -> None:
    rec, _ = reconciler(fake_api)
    invalid = ApplyError(
        'apply Ingress default/invoices: 422 metadata.annotations: Invalid value: "bad key!"',
        permanent=True,
        status=422,
    )
    fake_api.fail_kinds["Ingress"] = [invalid]
    fake_api.dry_run_error = invalid
    ready = build_children(OWNER, parse_spec(INGRESS_SPEC)).deployment
    ready["metadata"]["generation"] = 1
    ready["status"] = {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 2,
        "availableReplicas": 2,
        "readyReplicas": 2,
    }
    outcome = rec.reconcile(owner_body(INGRESS_SPEC), {DEPLOYMENT: ready})
    assert outcome.problem is not None and "bad key!" in outcome.problem.message
    status = fake_api.statuses[-1]
    assert conditions(status)["Ready"] == ("False", "ApplyFailed")
    assert "url" not in status
    # The Deployment's rollout completing later does not make it Ready while the Ingress is missing.
    rec.on_child_event(
        owner_body(INGRESS_SPEC), DEPLOYMENT, {**ready, "metadata": {**ready["metadata"], "resourceVersion": "9"}}
    )
    assert conditions(fake_api.statuses[-1])["Ready"][0] == "False"


def test_a_failed_child_is_retried_when_it_changes(fake_api: FakeApi) -> None:
    rec, _ = reconciler(fake_api)
    fake_api.fail_kinds["Service"] = [
        DUP := ApplyError("apply Service: 422 Duplicate value", permanent=True, status=422)
    ]
    fake_api.dry_run_error = DUP  # as if invalid: reported, not retried by itself
    assert rec.reconcile(owner_body({}), {}).problem is not None
    fake_api.dry_run_error = None
    rec.on_child_event(owner_body({}), SERVICE, None)  # the Service changed (here: deleted by hand)
    assert conditions(fake_api.statuses[-1])["Degraded"] == ("False", "AsExpected")


# ---- unknown models ------------------------------------------------------------------------------------

CATALOG = ModelCatalog.parse(
    '{"ghcr.io/ocr-crnn/ocr-server:0.1.0": ["crnn-en-1.0.0", "crnn-en-1.1.0", "crnn-en-1.2.0"]}'
)


def test_a_model_the_image_does_not_bundle_is_refused_before_anything_rolls(fake_api: FakeApi) -> None:
    rec, _ = reconciler(fake_api, CATALOG)
    outcome = rec.reconcile(owner_body({"model": {"version": "9.9.9"}}), {})
    assert outcome.problem is not None and outcome.problem.reason == "UnknownModel"
    assert "crnn-en-9.9.9 is not bundled in image ghcr.io/ocr-crnn/ocr-server:0.1.0" in outcome.problem.message
    assert fake_api.calls == []
    assert conditions(fake_api.statuses[-1]) == {
        "Ready": ("False", "UnknownModel"),
        "Progressing": ("False", "UnknownModel"),
        "Degraded": ("True", "UnknownModel"),
    }
    rec.on_child_event(owner_body({"model": {"version": "9.9.9"}}), DEPLOYMENT, None)
    assert fake_api.calls == []  # nor restored towards it
    assert rec.reconcile(owner_body({"model": {"version": "1.0.0"}}, generation=2), {}).problem is None


def test_catalog_checks_only_listed_images() -> None:
    assert CATALOG.unknown_model(parse_spec({"image": {"tag": "custom"}, "model": {"version": "9.9.9"}})) is None
    assert ModelCatalog.parse("").unknown_model(parse_spec({"model": {"version": "9.9.9"}})) is None
    for bad in ("[1]", '{"a": "b"}', "{"):
        with pytest.raises(CatalogError):
            ModelCatalog.parse(bad)


# ---- Events -------------------------------------------------------------------------------------------


def test_no_events_into_a_terminating_namespace(fake_api: FakeApi) -> None:
    recorder = EventRecorder(fake_api, clock=lambda: 0.0)
    ref = {"apiVersion": "ocr-crnn.io/v1alpha1", "kind": "OcrService", "metadata": {"namespace": "ns", "name": "a"}}
    recorder(ref, EventSpec("Normal", "Ready", "up"))
    assert [e["reason"] for e in fake_api.events] == ["Ready"]
    assert fake_api.events[0]["involvedObject"]["name"] == "a" and fake_api.events[0]["type"] == "Normal"
    fake_api.fail_event = ApplyError("403 forbidden", permanent=False, status=403, namespace_terminating=True)
    recorder(ref, EventSpec("Warning", "ChildRestored", "x"))
    fake_api.fail_event = None
    before = fake_api.requests
    recorder(ref, EventSpec("Warning", "ChildRestored", "x"))  # remembered: not even a request
    assert fake_api.requests == before and recorder.skipped == 2
    deleting = {**ref, "metadata": {**ref["metadata"], "namespace": "other", "deletionTimestamp": NOW}}
    recorder(deleting, EventSpec("Warning", "ChildRestored", "x"))
    assert fake_api.requests == before


def test_retry_back_off_is_capped() -> None:
    assert [retry_delay(r) for r in range(4)] == [5, 10, 20, 40]
    assert retry_delay(50) == 300


def test_a_hand_edit_the_full_reconcile_repairs_is_reported_once(fake_api: FakeApi) -> None:
    """The resume reconcile after a restart may reach a hand-edited Service before its watch event:
    needing the repair ladder proves a hand edit, so it is reported there (and only there)."""
    rec, events = reconciler(fake_api)
    fake_api.fail_kinds["Service"] = [ApplyError("apply Service: 422 Duplicate value", permanent=True, status=422)]
    assert rec.reconcile(owner_body({}), {}).problem is None
    assert events.warnings() == ["DriftCorrected"]
    assert "Service invoices was changed by hand" in events.posted[0].message


def test_a_child_event_does_not_report_a_generation_its_reconcile_has_not_applied(fake_api: FakeApi) -> None:
    """The chaos run's one status lie: the Deployment's event, carrying the owner's newer spec (a
    Service port change), restored the Deployment and reported Ready for the new generation while
    the Service still had the old port.  Only the full reconcile reports a new generation."""
    rec, _ = reconciler(fake_api)
    rec.reconcile(owner_body({}), {})
    applied = copy.deepcopy(fake_api.calls[2][3])  # the Deployment as applied
    applied["metadata"].update(generation=1, resourceVersion="5")
    applied["status"] = {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
    newer = owner_body({"service": {"port": 8080}}, generation=2)
    before = len(fake_api.statuses)
    rec.on_child_event(newer, DEPLOYMENT, applied)
    assert len(fake_api.statuses) == before  # nothing said about generation 2 yet
    rec.on_child_event(owner_body({}), DEPLOYMENT, applied)  # generation 1 (reconciled): reported
    assert conditions(fake_api.statuses[-1])["Ready"] == ("True", "Available")
    rec.reconcile(newer, {DEPLOYMENT: applied})
    assert fake_api.statuses[-1]["observedGeneration"] == 2
    services = [c[3] for c in fake_api.calls if c[:2] == ("apply", "Service")]
    assert services[-1]["spec"]["ports"][0]["port"] == 8080
