"""The repair ladder (``repair.apply_child``) and per-child isolation (``apply.apply_children``), on a
fake API: which calls happen when apply is refused.  The real 422s are reproduced against the API
server in test_operator_chaos_cases.py."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ocr_operator.apply import ApplyError, apply_children
from ocr_operator.builders import CONFIGMAP, DEPLOYMENT, SERVICE, build_children
from ocr_operator.repair import REPAIR_MANAGER, apply_child
from ocr_operator.spec import parse_spec
from tests.ocr_operator.helpers import OWNER, FakeApi

DUPLICATE = ApplyError(
    'apply Service default/invoices: 422 spec.ports[1].name: Duplicate value: "http"', permanent=True, status=422
)


def _service() -> dict:
    return build_children(OWNER, parse_spec({})).service


def _verbs(api: FakeApi) -> list[tuple[str, str]]:
    return [(verb, kind) for verb, kind, *_ in api.calls]


def test_apply_that_merges_into_a_hand_edited_list_is_repaired_by_a_merge_patch(fake_api: FakeApi) -> None:
    fake_api.fail_kinds["Service"] = [DUPLICATE]
    live = apply_child(fake_api, SERVICE, _service())
    assert _verbs(fake_api) == [
        ("apply-refused", "Service"),
        ("dry-run", "Service"),  # 409: our object is valid, the live one is in the way
        ("merge-patch", "Service"),  # lists replaced whole: port 81 goes, 80 comes back
        ("apply", "Service"),  # and apply owns the fields again
    ]
    patch = next(c for c in fake_api.calls if c[0] == "merge-patch")
    assert patch[2] == REPAIR_MANAGER and patch[3]["spec"]["ports"] == _service()["spec"]["ports"]
    assert live["spec"]["ports"][0]["port"] == 80


def test_an_invalid_desired_object_is_not_repaired_and_the_live_one_is_kept(fake_api: FakeApi) -> None:
    refused = ApplyError("apply Ingress: 422 metadata.annotations: Invalid value", permanent=True, status=422)
    fake_api.fail_kinds["Service"] = [refused]
    fake_api.dry_run_error = ApplyError("validate: 422 invalid", permanent=True, status=422)
    with pytest.raises(ApplyError) as err:
        apply_child(fake_api, SERVICE, _service())
    assert err.value is refused and err.value.permanent
    assert _verbs(fake_api) == [("apply-refused", "Service"), ("dry-run", "Service")]


def test_a_live_object_that_cannot_be_patched_back_is_recreated(fake_api: FakeApi) -> None:
    """E.g. a ConfigMap made immutable by hand: neither apply nor a patch may change its data."""
    configmap = build_children(OWNER, parse_spec({})).configmap
    fake_api.objects[("ConfigMap", "invoices-config")] = {"metadata": {"uid": "cm-uid"}, "immutable": True}
    fake_api.fail_kinds["ConfigMap"] = [ApplyError("apply: 422 field is immutable", permanent=True, status=422)]
    fake_api.fail_merge_patch = ApplyError("patch: 422 field is immutable", permanent=True, status=422)
    apply_child(fake_api, CONFIGMAP, configmap)
    assert _verbs(fake_api) == [
        ("apply-refused", "ConfigMap"),
        ("dry-run", "ConfigMap"),
        ("merge-patch", "ConfigMap"),
        ("get", "ConfigMap"),
        ("delete", "ConfigMap"),
        ("apply", "ConfigMap"),
    ]
    delete = next(c for c in fake_api.calls if c[0] == "delete")
    assert delete[3] == {"orphan": False, "uid": "cm-uid"}  # never a newer object under the name


def test_other_errors_are_not_repaired(fake_api: FakeApi) -> None:
    fake_api.fail_kinds["Service"] = [ApplyError("apply: 503", permanent=False, status=503)]
    with pytest.raises(ApplyError):
        apply_child(fake_api, SERVICE, _service())
    assert _verbs(fake_api) == [("apply-refused", "Service")]


def test_one_refused_child_does_not_stop_the_others(fake_api: FakeApi) -> None:
    fake_api.fail_kinds["Service"] = [ApplyError("apply Service: 403 exceeded quota", permanent=False, status=403)]
    children = build_children(OWNER, parse_spec({"replicas": 3}))
    result = apply_children(fake_api, OWNER, children, {}, None)
    assert ("apply", "Deployment") in _verbs(fake_api)  # reached despite the Service
    assert result.live[SERVICE] is None and result.live[DEPLOYMENT]["spec"]["replicas"] == 3
    (failure,) = result.failures
    assert (failure.kind, failure.name, failure.permanent) == ("Service", "invoices", False)
    assert "exceeded quota" in failure.message


def test_a_terminating_namespace_stops_the_loop(fake_api: FakeApi) -> None:
    fake_api.fail_kinds["ConfigMap"] = [ApplyError("403", permanent=False, status=403, namespace_terminating=True)]
    with pytest.raises(ApplyError):
        apply_children(fake_api, OWNER, build_children(OWNER, parse_spec({})), {}, None)
    assert ("apply", "Service") not in _verbs(fake_api)


def test_an_apply_that_leaves_a_hand_added_list_entry_is_followed_by_a_merge_patch(fake_api: FakeApi) -> None:
    """An env var renamed by hand: env merges by name, so apply succeeds and keeps the renamed entry."""
    deployment = build_children(OWNER, parse_spec({})).deployment
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    with_extra = copy.deepcopy(deployment)
    with_extra["spec"]["template"]["spec"]["containers"][0]["env"] = [*env, {"name": "RENAMED", "value": "x"}]
    answers = iter([with_extra, deployment])
    monkey_apply = fake_api.apply

    def apply(kind: Any, manifest: Any, **kw: Any) -> dict:
        monkey_apply(kind, manifest, **kw)
        return copy.deepcopy(next(answers))

    fake_api.apply = apply  # type: ignore[method-assign]
    apply_child(fake_api, DEPLOYMENT, deployment)
    assert _verbs(fake_api) == [("apply", "Deployment"), ("merge-patch", "Deployment"), ("apply", "Deployment")]


def test_an_undecided_validation_is_retried_not_blamed_on_the_spec(fake_api: FakeApi) -> None:
    fake_api.fail_kinds["Service"] = [DUPLICATE]
    fake_api.dry_run_error = ApplyError("validate: 403 exceeded quota", permanent=False, status=403)
    with pytest.raises(ApplyError) as err:
        apply_child(fake_api, SERVICE, _service())
    assert not err.value.permanent and "exceeded quota" in str(err.value)
    assert ("merge-patch", "Service") not in _verbs(fake_api)
