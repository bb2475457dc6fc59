"""The typed spec: defaults, and the checks a CRD schema cannot express."""

from __future__ import annotations

import pytest

from ocr_operator.spec import InvalidSpecError, parse_spec
from ocr_server.config import DEFAULT_MODEL_NAME, DEFAULT_MODEL_VERSION


def test_empty_spec_gets_the_documented_defaults() -> None:
    spec = parse_spec({})
    assert spec.replicas == 2 and spec.paused is False
    assert (spec.image.repository, spec.image.tag) == ("ghcr.io/ocr-crnn/ocr-server", "0.1.0")
    assert (spec.model.name, spec.model.version) == (DEFAULT_MODEL_NAME, DEFAULT_MODEL_VERSION)
    assert (spec.resources.requests.cpu, spec.resources.requests.memory) == ("500m", "512Mi")
    assert (spec.resources.limits.cpu, spec.resources.limits.memory) == ("1000m", "1Gi")
    auto = spec.autoscaling
    assert (auto.enabled, auto.min_replicas, auto.max_replicas, auto.target_cpu_utilization_percentage) == (
        False,
        2,
        10,
        70,
    )
    assert spec.ingress.enabled is False and spec.service.type == "ClusterIP"


def test_camel_case_and_integer_quantities() -> None:
    spec = parse_spec({"autoscaling": {"targetCPUUtilizationPercentage": 55}, "resources": {"limits": {"cpu": 2}}})
    assert spec.autoscaling.target_cpu_utilization_percentage == 55
    assert spec.resources.limits.cpu == "2"


def test_requests_above_limits_is_invalid_with_a_clear_message() -> None:
    with pytest.raises(InvalidSpecError, match=r"resources.requests.memory \(2Gi\) exceeds resources.limits.memory"):
        parse_spec({"resources": {"requests": {"memory": "2Gi"}}})


def test_server_config_validators_still_apply() -> None:
    """What CEL also checks on the API server, the operator re-checks (e.g. for objects stored before a
    CRD upgrade)."""
    with pytest.raises(InvalidSpecError, match="minSide"):
        parse_spec({"preprocessing": {"minSide": 3000, "maxSide": 2000}})
    with pytest.raises(InvalidSpecError, match="adaptiveBlockSize must be odd"):
        parse_spec({"detection": {"adaptiveBlockSize": 30}})


def test_unknown_top_level_fields_are_ignored() -> None:
    """An operator older than its CRD keeps reconciling the fields it knows."""
    assert parse_spec({"someFutureField": 1}).replicas == 2
