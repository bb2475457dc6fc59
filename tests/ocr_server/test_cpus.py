"""How many cores the server thinks it may use: cgroup v2 and v1 quotas, unlimited, unreadable."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr_server.cpus import cgroup_cpu_limit, threads_per_worker


def _v1(tmp_path: Path, quota: str, period: str = "100000") -> Path:
    folder = tmp_path / "cpu"
    folder.mkdir()
    (folder / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (folder / "cpu.cfs_period_us").write_text(f"{period}\n")
    return folder


@pytest.mark.parametrize(
    ("content", "cores"),
    [("100000 100000\n", 1), ("150000 100000\n", 2), ("max 100000\n", None), ("garbage\n", None)],
)
def test_cgroup_v2_quota(tmp_path: Path, content: str, cores: int | None) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text(content)
    assert cgroup_cpu_limit(cpu_max, tmp_path / "no-v1") == cores


@pytest.mark.parametrize(("quota", "cores"), [("100000", 1), ("250000", 3), ("50000", 1), ("-1", None)])
def test_cgroup_v1_quota_when_there_is_no_v2_file(tmp_path: Path, quota: str, cores: int | None) -> None:
    # A pod limited to 1 CPU on a cgroup v1 node (our real test node) must not take the host's cores.
    assert cgroup_cpu_limit(tmp_path / "cpu.max", _v1(tmp_path, quota)) == cores


def test_no_cgroup_files_means_unknown(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(tmp_path / "cpu.max", tmp_path / "cpu") is None


def test_threads_share_the_cores_between_workers() -> None:
    assert threads_per_worker(3, 2) == 3  # configured wins
    assert threads_per_worker(0, 64) >= 1
