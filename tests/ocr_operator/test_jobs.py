"""``spec.jobs``: the pure builders (workers, Redis, KEDA ScaledObject / HPA) and the reconcile of them."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from ocr_operator.builders import build_children
from ocr_operator.builders.configmap import render_config
from ocr_operator.builders.meta import CONFIG_HASH_ANNOTATION, config_hash
from ocr_operator.builders.redis import build_redis_deployment, build_redis_pvc, build_redis_service, redis_name
from ocr_operator.builders.scaledobject import build_scaled_object, build_worker_hpa
from ocr_operator.builders.workers import build_worker_deployment, workers_name
from ocr_operator.crd import build_crd
from ocr_operator.jobs import JOBS_READY, build_jobs_children, jobs_condition
from ocr_operator.reconcile import Reconciler
from ocr_operator.spec import InvalidSpecError, parse_spec
from ocr_server.config import parse_config
from tests.ocr_operator.helpers import OWNER, FakeApi, owner_body

NOW = "2024-05-01T10:00:00Z"
DEPLOYED = {"enabled": True, "redis": {"deploy": True}}
EXTERNAL = {
    "enabled": True,
    "redis": {"url": "rediss://cache.example:6380/2", "passwordSecretRef": {"name": "redis-auth"}},
}


def spec_with(jobs: dict[str, Any], **extra: Any):  # type: ignore[no-untyped-def]
    return parse_spec({"jobs": jobs, **extra})


def config_of(spec) -> dict:  # type: ignore[no-untyped-def]
    return yaml.safe_load(render_config(spec, OWNER))


# ------------------------------------------------------------------------- spec


@pytest.mark.parametrize(
    "redis",
    [{}, {"deploy": True, "url": "redis://r:6379/0"}],
)
def test_exactly_one_of_url_and_deploy_when_enabled(redis: dict) -> None:
    with pytest.raises(InvalidSpecError, match="exactly one of url and deploy"):
        parse_spec({"jobs": {"enabled": True, "redis": redis}})
    parse_spec({"jobs": {"enabled": False, "redis": redis}})  # irrelevant while disabled


def test_crd_carries_the_jobs_cel_rules_and_ttl_name() -> None:
    jobs = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["jobs"]
    rules = [v["rule"] for v in jobs["x-kubernetes-validations"]]
    assert "!self.enabled || (has(self.redis.url) != self.redis.deploy)" in rules
    assert "resultTTLSeconds" in jobs["properties"] and "maxFilesPerJob" in jobs["properties"]
    assert (
        jobs["properties"]["autoscaling"]["x-kubernetes-validations"][0]["rule"]
        == "self.minReplicas <= self.maxReplicas"
    )


# ------------------------------------------------------------------------- builders


def test_disabled_jobs_change_nothing_the_server_sees() -> None:
    spec = parse_spec({})
    assert "jobs" not in config_of(spec)
    assert all(c.desired is None for c in build_jobs_children(OWNER, spec, "h", keda=True))
    env = build_children(OWNER, spec).deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e["name"] for e in env] == ["OCR_CONFIG", "TMPDIR"]


def test_config_points_server_and_workers_at_the_operator_run_redis() -> None:
    spec = spec_with(
        {
            **DEPLOYED,
            "resultTTLSeconds": 600,
            "maxFilesPerJob": 20,
            "modelWaitSeconds": 45,
            "workers": {"concurrency": 2},
        }
    )
    jobs = config_of(spec)["jobs"]
    assert jobs["redisUrl"] == f"redis://{redis_name(OWNER)}.{OWNER.namespace}.svc:6379/0"
    assert (
        jobs["enabled"],
        jobs["resultTtlSeconds"],
        jobs["maxFilesPerJob"],
        jobs["modelWaitSeconds"],
        jobs["workerConcurrency"],
    ) == (True, 600, 20, 45, 2)
    assert parse_config(config_of(spec)).jobs_enabled  # what the pods will load


def test_worker_deployment_runs_the_server_image_with_the_same_config_and_other_labels() -> None:
    spec = spec_with({**DEPLOYED, "workers": {"replicas": 3}}, image={"tag": "0.3.0"})
    children = build_children(OWNER, spec)
    server = children.deployment
    worker = build_worker_deployment(
        OWNER, spec, server["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    )
    assert worker is not None and worker["metadata"]["name"] == workers_name(OWNER)
    assert worker["spec"]["replicas"] == 3
    pod, server_pod = worker["spec"]["template"], server["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["image"] == server_pod["spec"]["containers"][0]["image"] == "ghcr.io/ocr-crnn/ocr-server:0.3.0"
    assert container["command"] == ["python3", "-m", "ocr_server.jobs.worker"]
    assert pod["spec"]["volumes"] == server_pod["spec"]["volumes"]  # the same ConfigMap
    assert (
        pod["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
        == server_pod["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    )
    # the server's Service and Deployment must not select worker pods, nor the workers' selector server pods
    service_selector = children.service["spec"]["selector"].items()
    assert not service_selector <= pod["metadata"]["labels"].items()
    assert not worker["spec"]["selector"]["matchLabels"].items() <= server_pod["metadata"]["labels"].items()
    assert worker["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert container["securityContext"]["readOnlyRootFilesystem"] and container["securityContext"]["runAsNonRoot"]
    assert "livenessProbe" not in container and "readinessProbe" not in container


def test_redis_is_one_restricted_pod_with_an_append_only_file() -> None:
    spec = spec_with(DEPLOYED)
    deployment, service = build_redis_deployment(OWNER, spec), build_redis_service(OWNER, spec)
    assert deployment is not None and service is not None and build_redis_pvc(OWNER, spec) is None
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    security = container["securityContext"]
    assert security == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 999,
        "runAsGroup": 999,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    args = container["args"]
    assert args[args.index("--appendonly") + 1] == "yes" and args[args.index("--maxmemory-policy") + 1] == "noeviction"
    assert pod["spec"]["volumes"] == [{"name": "data", "emptyDir": {}}]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["ports"][0]["port"] == 6379


def test_redis_persistence_is_a_claim() -> None:
    spec = spec_with({**DEPLOYED, "redis": {"deploy": True, "persistence": {"enabled": True, "size": "5Gi"}}})
    pvc = build_redis_pvc(OWNER, spec)
    assert pvc is not None and pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"
    volumes = build_redis_deployment(OWNER, spec)["spec"]["template"]["spec"]["volumes"]  # type: ignore[index]
    assert volumes == [{"name": "data", "persistentVolumeClaim": {"claimName": redis_name(OWNER)}}]


def test_external_redis_password_comes_from_the_secret_for_server_and_workers() -> None:
    spec = spec_with(EXTERNAL)
    expected = {"name": "OCR_REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "password"}}}
    server_env = build_children(OWNER, spec).deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    worker = build_worker_deployment(OWNER, spec, "h")
    assert expected in server_env and expected in worker["spec"]["template"]["spec"]["containers"][0]["env"]  # type: ignore[index]
    assert config_of(spec)["jobs"]["redisUrl"] == "rediss://cache.example:6380/2"
    assert "password" not in render_config(spec, OWNER).lower().replace("passwordsecretref", "")
    assert all(
        c.desired is None for c in build_jobs_children(OWNER, spec, "h", keda=False) if c.name == redis_name(OWNER)
    )


def test_autoscaling_with_keda_is_a_scaled_object_on_the_queue() -> None:
    spec = spec_with(
        {**EXTERNAL, "autoscaling": {"enabled": True, "minReplicas": 0, "maxReplicas": 8, "targetQueueLength": 20}}
    )
    scaled = build_scaled_object(OWNER, spec, keda=True)
    assert scaled is not None and build_worker_hpa(OWNER, spec, keda=True) is None
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == workers_name(OWNER)
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (0, 8)
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"] == {
        "address": "cache.example:6380",
        "databaseIndex": "2",
        "listName": "ocr-pages",
        "listLength": "20",
        "activationListLength": "0",
        "enableTLS": "true",
        "passwordFromEnv": "OCR_REDIS_PASSWORD",
    }
    assert "replicas" not in build_worker_deployment(OWNER, spec, "h")["spec"]  # type: ignore[index]


def test_autoscaling_without_keda_is_an_hpa_on_cpu_with_at_least_one_worker() -> None:
    spec = spec_with({**DEPLOYED, "autoscaling": {"enabled": True, "minReplicas": 0, "maxReplicas": 4}})
    hpa = build_worker_hpa(OWNER, spec, keda=False)
    assert hpa is not None and build_scaled_object(OWNER, spec, keda=False) is None
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 4)
    assert hpa["spec"]["scaleTargetRef"]["name"] == workers_name(OWNER)
    assert hpa["metadata"]["name"] != build_children(OWNER, spec).service["metadata"]["name"]


def _deployment(replicas: int, available: int) -> dict:
    return {"spec": {"replicas": replicas}, "status": {"availableReplicas": available}}


@pytest.mark.parametrize(
    ("redis", "workers", "status", "reason"),
    [
        (_deployment(1, 1), _deployment(2, 2), "True", "WorkersAvailable"),
        (_deployment(1, 0), _deployment(2, 2), "False", "RedisUnavailable"),
        (_deployment(1, 1), _deployment(2, 0), "False", "NoWorkersAvailable"),
        (_deployment(1, 1), _deployment(0, 0), "True", "ScaledToZero"),
        (None, None, "False", "RedisUnavailable"),
    ],
)
def test_jobs_ready_condition(redis, workers, status, reason) -> None:  # type: ignore[no-untyped-def]
    cond = jobs_condition(spec_with(DEPLOYED), OWNER, {redis_name(OWNER): redis, workers_name(OWNER): workers}, 3)
    assert (cond.type, cond.status, cond.reason, cond.observed_generation) == (JOBS_READY, status, reason, 3)


# ------------------------------------------------------------------------- reconcile


def reconciler(api: FakeApi, keda: bool = False) -> Reconciler:
    rec = Reconciler(api, post_event=lambda body, event: None, clock=lambda: NOW)
    rec._keda = lambda _api: keda  # type: ignore[assignment,method-assign]
    return rec


def test_reconcile_applies_the_jobs_children_and_reports_jobs_ready(fake_api: FakeApi) -> None:
    rec = reconciler(fake_api, keda=True)
    rec.reconcile(owner_body({"jobs": {**DEPLOYED, "autoscaling": {"enabled": True}}}), {})
    applied = [(kind, manifest["metadata"]["name"]) for verb, kind, _m, manifest in fake_api.calls if verb == "apply"]
    for wanted in [
        ("Service", "invoices-redis"),
        ("Deployment", "invoices-redis"),
        ("Deployment", "invoices-workers"),
        ("ScaledObject", "invoices-workers"),
    ]:
        assert wanted in applied
    (status,) = fake_api.statuses
    jobs = [c for c in status["conditions"] if c["type"] == JOBS_READY]
    assert len(jobs) == 1 and jobs[0]["lastTransitionTime"] == NOW


def test_an_ocrservice_without_jobs_costs_no_extra_request(fake_api: FakeApi) -> None:
    rec = reconciler(fake_api)
    rec.reconcile(owner_body({}), {})
    names = [call[3]["metadata"]["name"] for call in fake_api.calls if call[0] == "apply"]
    assert not any(n.endswith(("-workers", "-redis")) for n in names)
    assert not [c for c in fake_api.calls if c[0] == "delete"]
    assert all(c["type"] != JOBS_READY for c in fake_api.statuses[0]["conditions"])


def test_disabling_jobs_deletes_workers_redis_and_scaler(fake_api: FakeApi) -> None:
    rec = reconciler(fake_api, keda=True)
    rec.reconcile(owner_body({"jobs": DEPLOYED}), {})
    status = fake_api.statuses[-1]
    fake_api.calls.clear()
    rec.reconcile(owner_body({"jobs": {"enabled": False}}, generation=2, status=status), {})
    deleted = {(kind, name) for verb, kind, name, _ in fake_api.calls if verb == "delete"}
    assert {
        ("Deployment", "invoices-workers"),
        ("Deployment", "invoices-redis"),
        ("Service", "invoices-redis"),
        ("ScaledObject", "invoices-workers"),
        ("HorizontalPodAutoscaler", "invoices-workers"),
    } <= deleted
    assert all(c["type"] != JOBS_READY for c in fake_api.statuses[-1]["conditions"])


def _live(name: str, replicas: int, available: int, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """A live jobs Deployment as a watch delivers it: what the operator applied, plus a status."""
    parsed = spec_with(spec or DEPLOYED)
    wanted = build_jobs_children(OWNER, parsed, config_hash(render_config(parsed, OWNER)), keda=False)
    desired = next(c.desired for c in wanted if c.kind.kind == "Deployment" and c.name == name)
    assert desired is not None
    return {**desired, "status": {"availableReplicas": available}, "spec": {**desired["spec"], "replicas": replicas}}


def test_worker_deployment_events_refresh_jobs_ready(fake_api: FakeApi) -> None:
    rec = reconciler(fake_api)
    body = owner_body({"jobs": DEPLOYED})
    rec.reconcile(body, {})
    first = next(c for c in fake_api.statuses[-1]["conditions"] if c["type"] == JOBS_READY)
    assert first["status"] == "False"
    fake_api.calls.clear()
    rec.on_jobs_child_event(body, redis_name(OWNER), _live(redis_name(OWNER), 1, 1))
    rec.on_jobs_child_event(body, workers_name(OWNER), _live(workers_name(OWNER), 1, 1))
    assert not [c for c in fake_api.calls if c[0] != "get"]  # as applied: nothing to restore
    last = next(c for c in fake_api.statuses[-1]["conditions"] if c["type"] == JOBS_READY)
    assert (last["status"], last["reason"]) == ("True", "WorkersAvailable")
    assert {c["type"] for c in fake_api.statuses[-1]["conditions"]} == {"Ready", "Progressing", "Degraded", JOBS_READY}


def test_a_deleted_worker_deployment_is_recreated(fake_api: FakeApi) -> None:
    events: list[Any] = []
    rec = Reconciler(fake_api, post_event=lambda body, event: events.append(event), clock=lambda: NOW)
    rec._keda = lambda _api: False  # type: ignore[assignment,method-assign]
    body = owner_body({"jobs": DEPLOYED})
    rec.reconcile(body, {})
    fake_api.calls.clear()
    events.clear()
    rec.on_jobs_child_event(body, workers_name(OWNER), None)
    # A fresh read first (the deletion event may be stale), then the same apply path as any child.
    assert [(verb, kind) for verb, kind, *_ in fake_api.calls] == [("get", "Deployment"), ("apply", "Deployment")]
    assert [(e.type, e.reason) for e in events] == [("Warning", "ChildRestored")]


def test_a_hand_edited_jobs_child_is_restored_with_one_drift_event(fake_api: FakeApi) -> None:
    events: list[Any] = []
    rec = Reconciler(fake_api, post_event=lambda body, event: events.append(event), clock=lambda: NOW)
    rec._keda = lambda _api: False  # type: ignore[assignment,method-assign]
    body = owner_body({"jobs": DEPLOYED})
    rec.reconcile(body, {})
    service = next(
        m
        for verb, kind, _m, m in fake_api.calls
        if verb == "apply" and kind == "Service" and m["metadata"]["name"] == redis_name(OWNER)
    )
    edited = {**service, "spec": {**service["spec"], "ports": [{**service["spec"]["ports"][0], "port": 1234}]}}
    fake_api.objects[("Service", redis_name(OWNER))] = edited
    fake_api.calls.clear()
    events.clear()
    from ocr_operator.builders import SERVICE

    rec.on_jobs_child_event(body, redis_name(OWNER), edited, SERVICE)
    assert ("apply", "Service") in [(verb, kind) for verb, kind, *_ in fake_api.calls]
    assert [(e.type, e.reason) for e in events] == [("Warning", "DriftCorrected")]


def test_a_refused_jobs_child_is_on_the_status_and_does_not_stop_the_others(fake_api: FakeApi) -> None:
    from ocr_operator.errors import ApplyError

    rec = reconciler(fake_api)
    fake_api.fail_kinds["PersistentVolumeClaim"] = [ApplyError("apply PVC: 403 forbidden", permanent=True, status=403)]
    outcome = rec.reconcile(
        owner_body({"jobs": {**DEPLOYED, "redis": {"deploy": True, "persistence": {"enabled": True}}}}), {}
    )
    assert outcome.problem is not None and outcome.problem.reason == "ApplyFailed"
    assert "403 forbidden" in outcome.problem.message
    applied = {(kind, m["metadata"]["name"]) for verb, kind, _m, m in fake_api.calls if verb == "apply"}
    assert {("Deployment", redis_name(OWNER)), ("Deployment", workers_name(OWNER))} <= applied
    degraded = next(c for c in fake_api.statuses[-1]["conditions"] if c["type"] == "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "ApplyFailed")
