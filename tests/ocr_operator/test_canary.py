"""``spec.canary``, pure parts: the plan (sizing, weights, rollback memory, promotion), the canary
children for every split (replicas only, Ingress, HTTPRoute), the metrics maths, the verdict, and
``status.canary`` / ``status.history`` / the ``Canary`` condition through a canary's life."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ocr_operator.builders import INGRESS, build_children
from ocr_operator.builders.canary import CANARY_ANNOTATION, CANARY_WEIGHT_ANNOTATION, MODEL_NAME_ENV, MODEL_VERSION_ENV
from ocr_operator.builders.meta import MODEL_ANNOTATION, TRACK_LABEL, selector_labels
from ocr_operator.canary.analysis import deadline_exceeded, judge
from ocr_operator.canary.children import build_canary_children, is_canary_child
from ocr_operator.canary.metrics import (
    Sample,
    TrackStats,
    histogram_quantile,
    increase,
    merge,
    parse_metrics,
    window_increase,
)
from ocr_operator.canary.plan import FAULT_ENV, canary_replicas, fingerprint, plan_canary
from ocr_operator.canary.state import CANARY_CONDITION, HISTORY_LIMIT, Observed, status_patch, with_canary
from ocr_operator.spec import CanaryAnalysis, InvalidSpecError, parse_spec
from ocr_operator.status import OcrServiceStatus
from tests.ocr_operator.canary_helpers import metrics_text
from tests.ocr_operator.helpers import OWNER

NOW = "2026-05-01T10:00:00Z"
LATER = "2026-05-01T10:10:00Z"
CANARY = {"model": {"version": "1.1.0"}, "weight": 50}
STABLE_MODEL, CANARY_MODEL = "crnn-en-1.6.0", "crnn-en-1.1.0"


def spec_of(**fields: Any) -> Any:
    return parse_spec({"replicas": 2, "canary": CANARY, **fields})


def kinds(children: Any) -> dict[tuple[str, str], Any]:
    return {(c.kind.kind, c.name): c.desired for c in children}


# ---- spec and plan -------------------------------------------------------------------------------


def test_canary_model_must_differ_from_the_stable() -> None:
    with pytest.raises(InvalidSpecError, match=r"canary\.model must differ"):
        parse_spec({"canary": {"model": {"version": "1.6.0"}}})


def test_no_canary_no_plan() -> None:
    assert plan_canary(parse_spec({}), None, {}, gateway_api=True) is None


@pytest.mark.parametrize(
    ("stable", "weight", "replicas"),
    [(2, 50, 2), (2, 10, 1), (4, 20, 1), (9, 10, 1), (3, 25, 1), (4, 90, 4), (2, 100, 2), (2, 0, 0)],
)
def test_canary_pods_by_pod_ratio_follow_the_weight_up_to_half(stable: int, weight: int, replicas: int) -> None:
    spec = parse_spec({"replicas": stable, "canary": {**CANARY, "weight": weight}})
    assert canary_replicas(spec, gateway_api=False) == replicas
    if 0 < weight <= 50:  # the share is within one pod of the weight
        assert abs(replicas / (stable + replicas) - weight / 100) <= 1 / (stable + replicas)


def test_exact_split_sizes_the_canary_for_its_share_and_explicit_replicas_win() -> None:
    spec = parse_spec({"replicas": 4, "ingress": {"enabled": True, "host": "a.b"}, "canary": {**CANARY, "weight": 30}})
    assert canary_replicas(spec, gateway_api=False) == math.ceil(4 * 0.3)
    assert canary_replicas(parse_spec({"replicas": 4, "canary": {**CANARY, "replicas": 3}}), gateway_api=False) == 3
    auto = parse_spec({"autoscaling": {"enabled": True, "minReplicas": 3}, "canary": {**CANARY, "weight": 25}})
    assert canary_replicas(auto, gateway_api=False) == 1  # sized against the HPA's minimum


def test_routed_weight_is_zero_until_every_canary_pod_is_ready() -> None:
    spec = spec_of(ingress={"enabled": True, "host": "a.b"})
    plan = plan_canary(spec, None, {}, gateway_api=False)
    assert plan is not None and plan.runs and plan.routed_weight == 0 and plan.track_services and plan.ingress
    fp = fingerprint(spec, None)
    progressing = {"canary": {"fingerprint": fp, "readyReplicas": 0, "state": "Progressing"}}
    assert plan_canary(spec, None, progressing, gateway_api=False).routed_weight == 0  # type: ignore[union-attr]
    ready = {"canary": {"fingerprint": fp, "readyReplicas": 1, "state": "Serving"}}
    assert plan_canary(spec, None, ready, gateway_api=False).routed_weight == 50  # type: ignore[union-attr]
    other = {"canary": {"fingerprint": "another", "readyReplicas": 5, "state": "Serving"}}
    assert plan_canary(spec, None, other, gateway_api=False).routed_weight == 0  # type: ignore[union-attr]


def test_a_rolled_back_canary_stays_away_until_model_image_or_fault_change() -> None:
    spec = spec_of()
    rolled = {"canary": {"fingerprint": fingerprint(spec, None), "state": "RolledBack"}}
    assert plan_canary(spec, None, rolled, gateway_api=False) is None
    assert plan_canary(spec_of(canary={**CANARY, "weight": 20}), None, rolled, gateway_api=False) is None
    assert plan_canary(spec_of(canary={**CANARY, "image": {"tag": "0.2.0"}}), None, rolled, gateway_api=False)
    assert plan_canary(spec, "errors=0.5", rolled, gateway_api=False)
    assert plan_canary(spec_of(canary={"model": {"version": "1.0.0"}}), None, rolled, gateway_api=False)


def test_promotion_keeps_the_canary_until_the_stable_serves_its_model() -> None:
    promoted = parse_spec({"model": {"version": "1.1.0"}})
    before = {"model": STABLE_MODEL, "canary": {"model": CANARY_MODEL, "state": "Serving"}}
    plan = plan_canary(promoted, None, before, gateway_api=True)
    assert plan is not None and plan.promoting and not plan.runs and not plan.track_services
    assert plan_canary(promoted, None, {**before, "model": CANARY_MODEL}, gateway_api=True) is None
    # removing the canary without changing the model is a rollback: nothing kept
    assert plan_canary(parse_spec({}), None, before, gateway_api=True) is None


# ---- children --------------------------------------------------------------------------------


def test_stable_only_has_no_canary_children_and_pods_carry_the_stable_track() -> None:
    spec = parse_spec({"ingress": {"enabled": True, "host": "a.b"}})
    children = build_children(OWNER, spec)
    template = children.deployment["spec"]["template"]
    assert template["metadata"]["labels"][TRACK_LABEL] == "stable"
    assert children.deployment["spec"]["selector"] == {"matchLabels": selector_labels(OWNER)}  # unchanged
    assert children.ingress is not None
    assert children.ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == OWNER.name
    assert all(c.desired is None for c in build_canary_children(OWNER, spec, None, "h", gateway_api=True))


def test_canary_by_replicas_is_one_more_deployment_behind_the_same_service() -> None:
    spec = spec_of(podLabels={"team": "docs"})
    plan = plan_canary(spec, "errors=0.5", {}, gateway_api=False)
    children = kinds(build_canary_children(OWNER, spec, plan, "cfghash", gateway_api=False))
    dep = children[("Deployment", "invoices-canary")]
    stable = build_children(OWNER, spec, plan).deployment
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["selector"]["matchLabels"] == {**selector_labels(OWNER), TRACK_LABEL: "canary"}
    pod = dep["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert labels[TRACK_LABEL] == "canary" and labels["team"] == "docs"
    assert selector_labels(OWNER).items() <= labels.items()  # the OcrService's Service selects it too
    assert pod["metadata"]["annotations"][MODEL_ANNOTATION] == CANARY_MODEL
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env[MODEL_NAME_ENV] == "crnn-en" and env[MODEL_VERSION_ENV] == "1.1.0" and env[FAULT_ENV] == "errors=0.5"
    assert FAULT_ENV not in {e["name"] for e in stable["spec"]["template"]["spec"]["containers"][0]["env"]}
    # the same ConfigMap and the same restricted pod as the stable
    assert pod["spec"]["volumes"] == stable["spec"]["template"]["spec"]["volumes"]
    assert pod["spec"]["securityContext"] == stable["spec"]["template"]["spec"]["securityContext"]
    assert container["securityContext"] == stable["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"  # the golden-set gate keeps it out
    assert dep["spec"]["progressDeadlineSeconds"] == 300
    # no exact split: no track Services, no canary Ingress, no HTTPRoute
    assert children[("Service", "invoices-stable")] is None and children[("Service", "invoices-canary")] is None
    assert children[("Ingress", "invoices-canary")] is None and ("HTTPRoute", "invoices") not in children


def test_canary_image_defaults_to_the_stable_image() -> None:
    spec = spec_of(canary={**CANARY, "image": {"repository": "reg.example/ocr", "tag": "0.3.0"}})
    plan = plan_canary(spec, None, {}, gateway_api=False)
    dep = kinds(build_canary_children(OWNER, spec, plan, "h", gateway_api=False))[("Deployment", "invoices-canary")]
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "reg.example/ocr:0.3.0"
    plain = spec_of()
    dep = kinds(
        build_canary_children(OWNER, plain, plan_canary(plain, None, {}, gateway_api=False), "h", gateway_api=False)
    )
    assert dep[("Deployment", "invoices-canary")]["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"{plain.image.repository}:{plain.image.tag}"
    )


def test_canary_by_ingress_uses_nginx_canary_annotations_and_track_services() -> None:
    spec = spec_of(ingress={"enabled": True, "host": "ocr.example.com", "annotations": {"x/y": "z"}}, canary=CANARY)
    ready = {"canary": {"fingerprint": fingerprint(spec, None), "readyReplicas": 1, "state": "Serving"}}
    plan = plan_canary(spec, None, ready, gateway_api=False)
    children = kinds(build_canary_children(OWNER, spec, plan, "h", gateway_api=False))
    ing = children[("Ingress", "invoices-canary")]
    annotations = ing["metadata"]["annotations"]
    assert annotations[CANARY_ANNOTATION] == "true" and annotations[CANARY_WEIGHT_ANNOTATION] == "50"
    assert annotations["x/y"] == "z"
    rule = ing["spec"]["rules"][0]
    assert rule["host"] == "ocr.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "invoices-canary"
    main = build_children(OWNER, spec, plan).ingress
    assert main is not None and CANARY_ANNOTATION not in main["metadata"]["annotations"]
    assert main["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "invoices-stable"
    for track in ("stable", "canary"):
        svc = children[("Service", f"invoices-{track}")]
        assert svc["spec"]["type"] == "ClusterIP"
        assert svc["spec"]["selector"] == {**selector_labels(OWNER), TRACK_LABEL: track}
    assert (
        build_children(OWNER, spec, None).ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"][  # type: ignore[index]
            "name"
        ]
        == OWNER.name
    )


def test_canary_by_httproute_weights_both_tracks_and_attaches_to_gateways_or_the_service() -> None:
    spec = spec_of(canary={**CANARY, "weight": 10})
    ready = {"canary": {"fingerprint": fingerprint(spec, None), "readyReplicas": 1, "state": "Serving"}}
    plan = plan_canary(spec, None, ready, gateway_api=True)
    assert plan is not None and plan.httproute and plan.track_services and not plan.ingress
    route = kinds(build_canary_children(OWNER, spec, plan, "h", gateway_api=True))[("HTTPRoute", "invoices")]
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    backends = {b["name"]: b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]}
    assert backends == {"invoices-stable": 90, "invoices-canary": 10}
    assert route["spec"]["parentRefs"] == [{"group": "", "kind": "Service", "name": "invoices", "port": 80}]
    assert "hostnames" not in route["spec"]
    gw = spec_of(
        ingress={"enabled": True, "host": "ocr.example.com"},
        canary={**CANARY, "gatewayRefs": [{"name": "public", "namespace": "gw", "sectionName": "https"}]},
    )
    route = kinds(build_canary_children(OWNER, gw, plan_canary(gw, None, {}, gateway_api=True), "h", gateway_api=True))[
        ("HTTPRoute", "invoices")
    ]
    assert route["spec"]["parentRefs"] == [
        {
            "group": "gateway.networking.k8s.io",
            "kind": "Gateway",
            "name": "public",
            "namespace": "gw",
            "sectionName": "https",
        }
    ]
    assert route["spec"]["hostnames"] == ["ocr.example.com"]
    assert {b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]} == {100, 0}  # not ready yet


def test_promotion_and_rollback_remove_the_split_and_promotion_keeps_the_deployment() -> None:
    promoted = parse_spec({"model": {"version": "1.1.0"}, "ingress": {"enabled": True, "host": "a.b"}})
    plan = plan_canary(promoted, None, {"model": STABLE_MODEL, "canary": {"model": CANARY_MODEL}}, gateway_api=True)
    children = {(c.kind.kind, c.name): c for c in build_canary_children(OWNER, promoted, plan, "h", gateway_api=True)}
    assert children[("Deployment", "invoices-canary")].keep
    assert all(c.desired is None for c in children.values())
    main = build_children(OWNER, promoted, plan).ingress
    assert main is not None and main["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "invoices"
    rolled_back = build_canary_children(OWNER, parse_spec({}), None, "h", gateway_api=True)
    assert all(c.desired is None and not c.keep for c in rolled_back)


def test_canary_children_are_recognised_by_kind_and_name() -> None:
    from ocr_operator.builders import DEPLOYMENT, HPA, SERVICE

    assert is_canary_child(OWNER, DEPLOYMENT, "invoices-canary")
    assert is_canary_child(OWNER, SERVICE, "invoices-stable") and is_canary_child(OWNER, INGRESS, "invoices-canary")
    assert not is_canary_child(OWNER, DEPLOYMENT, "invoices") and not is_canary_child(OWNER, HPA, "invoices-canary")


# ---- metrics and verdict --------------------------------------------------------------------------


def test_parse_keeps_only_the_ocr_routes() -> None:
    counters = parse_metrics(metrics_text(ok=90, errors=10, latency_s=0.04, probes=500))
    assert counters.total == 100 and counters.errors == 10
    assert counters.buckets[math.inf] == 100  # the probes' 9 s answers are not in the histogram
    ocr = parse_metrics(metrics_text(ok=5, endpoint="/api/v1/ocr"))
    assert ocr.total == 5
    assert parse_metrics(metrics_text(ok=5, endpoint="/api/v1/info")).total == 0


def test_window_increase_uses_the_newest_sample_old_enough_and_survives_a_restart() -> None:
    def at(t: float, ok: int) -> Sample:
        return Sample(t, parse_metrics(metrics_text(ok=ok)))

    samples = [at(0, 10), at(30, 40), at(60, 100), at(90, 130)]
    assert window_increase(samples, 60).total == 90  # type: ignore[union-attr]  (130 - 40: from t=30)
    assert window_increase(samples, 30).total == 30  # type: ignore[union-attr]  (130 - 100: from t=60)
    assert window_increase(samples, 300).total == 120  # type: ignore[union-attr]  (younger than the window)
    assert window_increase(samples[:1], 30) is None
    restarted = increase(parse_metrics(metrics_text(ok=7)), parse_metrics(metrics_text(ok=500)))
    assert restarted.total == 7


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = {0.1: 50.0, 0.2: 90.0, 0.5: 100.0, math.inf: 100.0}
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.2 + 0.3 * 0.5)
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.95, {0.1: 0.0, math.inf: 10.0}) == 0.1  # in +Inf: the highest bound
    assert histogram_quantile(0.95, {math.inf: 0.0}) is None
    stats = TrackStats.of(merge([parse_metrics(metrics_text(ok=10, latency_s=0.3))] * 2))
    assert stats.requests == 20 and stats.errors == 0 and 200 < stats.p95_ms <= 350  # type: ignore[operator]


RULES = CanaryAnalysis(min_requests=20, max_error_rate=0.05)


@pytest.mark.parametrize(
    ("canary", "stable", "rules", "verdict", "why"),
    [
        (TrackStats(10, 5, 40.0), TrackStats(100, 0, 40.0), RULES, "Inconclusive", "minRequests"),
        (TrackStats(100, 1, 40.0), TrackStats(100, 0, 40.0), RULES, "Pass", ""),
        (TrackStats(100, 50, 40.0), TrackStats(100, 0, 40.0), RULES, "Fail", "error rate 50.0 %"),
        (TrackStats(100, 10, 40.0), TrackStats(100, 20, 40.0), RULES, "Pass", ""),  # the stable is worse
        (TrackStats(100, 10, 40.0), TrackStats(0, 0, None), RULES, "Fail", "error rate"),
        (TrackStats(100, 0, 900.0), TrackStats(100, 0, 40.0), CanaryAnalysis(max_p95_ms=500), "Fail", "maxP95Ms"),
        (TrackStats(100, 0, 90.0), TrackStats(100, 0, 40.0), CanaryAnalysis(max_p95_latency_ratio=2), "Fail", "2.0 x"),
        (TrackStats(100, 0, 70.0), TrackStats(100, 0, 40.0), CanaryAnalysis(max_p95_latency_ratio=2), "Pass", ""),
        (TrackStats(100, 0, 90.0), TrackStats(3, 0, 40.0), CanaryAnalysis(max_p95_latency_ratio=2), "Pass", ""),
    ],
)
def test_judge(canary: TrackStats, stable: TrackStats, rules: CanaryAnalysis, verdict: str, why: str) -> None:
    judgement = judge(rules, canary, stable)
    assert judgement.verdict == verdict, judgement.message
    assert why in judgement.message


def test_progress_deadline() -> None:
    assert deadline_exceeded(NOW, LATER, 300, ready=0, replicas=1)
    assert not deadline_exceeded(NOW, LATER, 900, ready=0, replicas=1)
    assert not deadline_exceeded(NOW, LATER, 300, ready=1, replicas=1)
    assert not deadline_exceeded(NOW, LATER, 300, ready=0, replicas=0)
    assert not deadline_exceeded(None, LATER, 300, ready=0, replicas=1)


# ---- status, condition, history ---------------------------------------------------------------


def base_status(model: str | None = STABLE_MODEL) -> OcrServiceStatus:
    return OcrServiceStatus(observed_generation=1, model=model, model_version=model and model.rsplit("-", 1)[1])


def canary_deployment(ready: int) -> dict[str, Any]:
    return {"status": {"readyReplicas": ready}}


def step(
    previous: dict[str, Any], spec: Any, observed: Observed, now: str = NOW, model: str | None = STABLE_MODEL
) -> tuple[dict[str, Any], list[str]]:
    status, events = with_canary(base_status(model), previous, spec, observed, now)
    return status.to_patch(), [f"{e.type}/{e.reason}" for e in events]


def condition(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == CANARY_CONDITION)


def test_canary_life_progressing_serving_rolled_back_and_removed() -> None:
    spec = spec_of()
    first, events = step({}, parse_spec({"replicas": 2}), Observed(None))
    assert [h["reason"] for h in first["history"]] == ["manual"] and "canary" not in first and not events

    plan = plan_canary(spec, None, first, gateway_api=False)
    starting, events = step(first, spec, Observed(plan, canary_deployment(0), stable_ready=2))
    assert starting["canary"]["state"] == "Progressing" and starting["canary"]["startedAt"] == NOW
    assert condition(starting)["status"] == "Unknown" and condition(starting)["reason"] == "Progressing"
    assert starting["canary"]["summary"] == f"{CANARY_MODEL} 50% Progressing"

    serving, events = step(starting, spec, Observed(plan, canary_deployment(2), stable_ready=2), now=LATER)
    assert serving["canary"]["state"] == "Serving" and serving["canary"]["podPercent"] == 50
    assert serving["canary"]["startedAt"] == NOW  # the deadline counts from the start
    assert condition(serving)["reason"] == "Serving" and events == ["Normal/CanaryServing"]
    assert serving["canary"]["split"] == "podRatio" and "routedWeight" not in serving["canary"]

    verdict = judge(RULES, TrackStats(100, 50, 40.0), TrackStats(100, 0, 40.0))
    rolled, events = step(serving, spec, Observed(plan, canary_deployment(2), verdict, LATER, rollback=verdict.message))
    assert rolled["canary"]["state"] == "RolledBack" and rolled["canary"]["analysis"]["verdict"] == "Fail"
    assert rolled["canary"]["summary"] == f"{CANARY_MODEL} RolledBack"
    assert condition(rolled)["status"] == "False" and condition(rolled)["reason"] == "Degraded"
    assert "error rate 50.0 %" in condition(rolled)["message"]
    assert events == ["Warning/CanaryRolledBack"]
    assert rolled["history"][-1]["reason"] == "rolledBack" and rolled["history"][-1]["model"] == CANARY_MODEL
    assert plan_canary(spec, None, rolled, gateway_api=False) is None  # it stays away

    still, events = step(rolled, spec, Observed(None))
    assert still["canary"]["state"] == "RolledBack" and not events and len(still["history"]) == 2

    removed, events = step(still, parse_spec({"replicas": 2}), Observed(None))
    assert "canary" not in removed and CANARY_CONDITION not in [c["type"] for c in removed.get("conditions", [])]
    assert len(removed["history"]) == 2 and not events  # the rollback is recorded once
    assert status_patch(still, OcrServiceStatus.model_validate(removed))["canary"] is None  # merge patch: delete it


def test_removing_a_serving_canary_is_a_manual_rollback_in_the_history() -> None:
    spec = spec_of()
    plan = plan_canary(spec, None, {}, gateway_api=False)
    serving, _ = step({"model": STABLE_MODEL}, spec, Observed(plan, canary_deployment(2)))
    removed, events = step(serving, parse_spec({"replicas": 2}), Observed(None))
    assert (
        removed["history"][-1]["reason"] == "rolledBack" and removed["history"][-1]["message"] == "spec.canary removed"
    )
    assert events == ["Normal/CanaryRemoved"]


def test_promotion_is_promoting_until_the_stable_serves_the_model_then_a_promoted_entry() -> None:
    spec = spec_of()
    plan = plan_canary(spec, None, {}, gateway_api=False)
    serving, _ = step({"model": STABLE_MODEL}, spec, Observed(plan, canary_deployment(2)))
    promoted_spec = parse_spec({"replicas": 2, "model": {"version": "1.1.0"}})
    promoting_plan = plan_canary(promoted_spec, None, serving, gateway_api=False)
    assert promoting_plan is not None and promoting_plan.promoting
    promoting, events = step(serving, promoted_spec, Observed(promoting_plan))
    assert promoting["canary"]["state"] == "Promoting" and condition(promoting)["reason"] == "Promoting"
    done, events = step(promoting, promoted_spec, Observed(promoting_plan), model=CANARY_MODEL)
    assert "canary" not in done and done["history"][-1]["reason"] == "promoted"
    assert done["history"][-1]["model"] == CANARY_MODEL and events == ["Normal/CanaryPromoted"]
    assert plan_canary(promoted_spec, None, done, gateway_api=False) is None  # now the canary Deployment goes


def test_a_plain_model_change_is_manual_and_history_keeps_the_last_entries() -> None:
    previous: dict[str, Any] = {"model": "crnn-en-0.0.0", "history": []}
    for i in range(HISTORY_LIMIT + 3):
        model = f"crnn-en-1.0.{i}"
        previous, _ = step(previous, parse_spec({}), Observed(None), model=model)
    assert len(previous["history"]) == HISTORY_LIMIT
    assert previous["history"][-1]["model"] == f"crnn-en-1.0.{HISTORY_LIMIT + 2}"
    assert {h["reason"] for h in previous["history"]} == {"manual"}


def test_without_auto_rollback_a_failure_is_reported_and_the_canary_keeps_running() -> None:
    spec = spec_of(canary={**CANARY, "autoRollback": False})
    plan = plan_canary(spec, None, {}, gateway_api=False)
    verdict = judge(RULES, TrackStats(100, 50, 40.0), TrackStats(100, 0, 40.0))
    status, events = step({}, spec, Observed(plan, canary_deployment(2), verdict, NOW))
    assert status["canary"]["state"] == "Serving" and condition(status)["reason"] == "AnalysisFailed"
    assert events == ["Warning/CanaryAnalysisFailed"]
    stuck, events = step(
        status | {"canary": {**status["canary"], "analysis": None}},
        spec,
        Observed(plan, canary_deployment(0)),
        now=LATER,
    )
    assert condition(stuck)["reason"] == "ProgressDeadlineExceeded" and stuck["canary"]["state"] == "Progressing"
