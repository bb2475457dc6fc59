"""Drift detection compares only the fields the operator sets, quantities by value."""

from __future__ import annotations

from ocr_operator.drift import drift_paths


def test_extra_live_fields_are_not_drift() -> None:
    want = {"spec": {"replicas": 2, "template": {"metadata": {"labels": {"a": "b"}}}}}
    have = {
        "spec": {"replicas": 2, "paused": False, "template": {"metadata": {"labels": {"a": "b", "x": "y"}}}},
        "status": {"replicas": 2},
    }
    assert drift_paths(want, have) == []


def test_changed_and_missing_fields_are_reported_with_paths() -> None:
    want = {"spec": {"containers": [{"image": "a:1", "name": "c"}], "replicas": 2}}
    have = {"spec": {"containers": [{"image": "a:2", "name": "c"}]}}
    assert drift_paths(want, have) == ["spec.containers[0].image", "spec.replicas"]


def test_quantities_compare_by_value() -> None:
    assert drift_paths({"cpu": "1000m", "memory": "1Gi"}, {"cpu": "1", "memory": "1024Mi"}) == []
    assert drift_paths({"cpu": "500m"}, {"cpu": "1"}) == ["cpu"]


def test_booleans_are_not_numbers_and_lists_must_match_length() -> None:
    assert drift_paths({"x": True}, {"x": 1}) == ["x"]
    assert drift_paths({"l": [1]}, {"l": [1, 2]}) == ["l"]
    assert drift_paths({"s": "http"}, {"s": "https"}) == ["s"]
