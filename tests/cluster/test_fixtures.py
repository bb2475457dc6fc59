"""The cluster fixtures' contract without a cluster: skip locally, fail in CI, auto-mark.

Why: the skip message is what a developer without binaries sees, and CI must
never go green by silently skipping every Kubernetes test.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from tests.cluster import fixtures
from tests.cluster.launcher import BUILD_HINT


@pytest.fixture
def no_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fixtures, "missing_binaries", lambda: ["kube-apiserver"])


def test_missing_binaries_skip_with_the_build_command(no_binaries: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as outcome:
        next(fixtures.session_cluster())
    assert outcome.value.msg == "run `make cluster-build` (tests/cluster/build.sh)" == BUILD_HINT


def test_missing_binaries_fail_in_ci(no_binaries: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as outcome:
        next(fixtures.session_cluster())
    assert "kube-apiserver" in outcome.value.msg and BUILD_HINT in outcome.value.msg


def test_tests_using_cluster_fixtures_are_marked_k8s() -> None:
    marks: list[str] = []
    item = SimpleNamespace(
        fixturenames=["tmp_path", "k8s_namespace"],
        get_closest_marker=lambda name: None,
        add_marker=lambda mark: marks.append(mark.name),
    )
    fixtures.mark_cluster_tests([item])  # type: ignore[list-item]
    assert marks == ["k8s"]


def test_namespace_names_are_dns_labels() -> None:
    name = fixtures._namespace_name("test_thing[Param With Spaces/And_More]" * 3)
    assert len(name) <= 63 and name.startswith("t-test-thing-param-with-spaces")
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)
