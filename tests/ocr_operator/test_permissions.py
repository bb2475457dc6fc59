"""The operator's client records the RBAC verbs it uses, and they are exactly the declared ones
(``permissions.CLIENT``); the chart test compares the declared list with the rendered role."""

from __future__ import annotations

from typing import Any

import pytest

from ocr_operator.apply import KubeApi
from ocr_operator.builders import CANARY_ONLY_KINDS, CHILD_KINDS, HTTPROUTE, JOBS_ONLY_KINDS, build_children
from ocr_operator.jobs import build_jobs_children
from ocr_operator.permissions import CLIENT, KOPF, REQUIRED, parse_rules, parse_used
from ocr_operator.spec import parse_spec
from tests.ocr_operator.helpers import OWNER


def test_every_client_call_is_declared_and_every_declared_call_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    api = KubeApi(api_client=None)  # type: ignore[arg-type]
    monkeypatch.setattr(api, "_request", lambda method, path, **kw: (201, {}))  # "created"
    children = build_children(
        OWNER, parse_spec({"autoscaling": {"enabled": True}, "ingress": {"enabled": True, "host": "a.b"}})
    )
    for kind, manifest in children.by_kind().items():
        assert manifest is not None
        api.apply(kind, manifest)
        api.merge_patch(kind, manifest, manager="m")
        api.dry_run_create(kind, manifest)
        api.get(kind, "ns", "x")
        api.delete(kind, "ns", "x")
    jobs = parse_spec(
        {
            "jobs": {
                "enabled": True,
                "autoscaling": {"enabled": True},
                "redis": {"deploy": True, "persistence": {"enabled": True}},
            }
        }
    )
    for child in build_jobs_children(OWNER, jobs, "hash", keda=True):
        if child.kind in JOBS_ONLY_KINDS:  # the PVC and ScaledObject: the same apply path, and deleted
            assert child.desired is not None
            api.apply(child.kind, child.desired)
            api.merge_patch(child.kind, child.desired, manager="m")
            api.dry_run_create(child.kind, child.desired)
            api.get(child.kind, "ns", "x")
            api.delete(child.kind, "ns", "x")
    route = {"metadata": {"namespace": "ns", "name": "x"}}  # the canary's HTTPRoute: the same by-name path
    api.apply(HTTPROUTE, route)
    api.merge_patch(HTTPROUTE, route, manager="m")
    api.dry_run_create(HTTPROUTE, route)
    api.get(HTTPROUTE, "ns", "x")
    api.delete(HTTPROUTE, "ns", "x")
    monkeypatch.setattr(api, "_raw", lambda method, path, **kw: _Raw())
    api.list_pods("ns", "a=b")  # the canary analysis: each track's pods, and their /metrics
    assert api.pod_get("ns", "pod", 8080, "/metrics") == "ocr 1\n"
    api.patch_status("ns", "x", {})
    api.create_event("ns", {})
    assert api.used == CLIENT
    assert (len(CHILD_KINDS) + len(JOBS_ONLY_KINDS) + len(CANARY_ONLY_KINDS)) * 4 + 2 + 2 == len(CLIENT)


class _Raw:
    """A urllib3-like response: what ``KubeApi._raw`` returns."""

    status = 200
    data = b"ocr 1\n"

    def release_conn(self) -> None:
        pass


def test_kopf_and_client_permissions_do_not_overlap_and_parse() -> None:
    assert not KOPF & CLIENT and REQUIRED == KOPF | CLIENT
    rules: list[dict[str, Any]] = [{"apiGroups": ["", "apps"], "resources": ["a"], "verbs": ["get", "list"]}]
    assert parse_rules(rules) == {("", "a", "get"), ("", "a", "list"), ("apps", "a", "get"), ("apps", "a", "list")}
    assert parse_used(["/events:create", "apps/deployments:patch"]) == {
        ("", "events", "create"),
        ("apps", "deployments", "patch"),
    }
