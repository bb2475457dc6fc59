"""Environment defaults of ``python -m ocr_operator``."""

from __future__ import annotations

from ocr_operator.__main__ import peering_priority, watch_namespaces


def test_watch_namespaces() -> None:
    assert watch_namespaces({}) == []
    assert watch_namespaces({"WATCH_NAMESPACES": " a, b ,,"}) == ["a", "b"]


def test_peering_priority_is_explicit_derived_or_random() -> None:
    assert peering_priority({"OPERATOR_PRIORITY": "7"}) == 7
    assert peering_priority({"POD_IP": "10.1.0.2"}) != peering_priority({"POD_IP": "10.1.0.3"})
    randoms = {peering_priority({}) for _ in range(5)}
    assert len(randoms) > 1 and all(0 < p < 2**31 for p in randoms)
