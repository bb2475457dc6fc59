"""How many CPU cores this process may really use, container limits included.

``os.cpu_count()`` reports the host's cores; a pod limited to 2 CPUs on a 64-core node would
then start 64 inference threads per worker and thrash.  The cgroup quota (v2 ``cpu.max``, or v1
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` on nodes that still run cgroup v1, such as our test
node) and the scheduler affinity are all honoured.  Standard library only: gunicorn's master
imports this.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_CPU = Path("/sys/fs/cgroup/cpu")


def _cores(quota: str, period: str) -> int | None:
    """Cores a CFS quota allows, rounded up; ``None`` when unlimited (``max`` or -1) or unreadable."""
    if quota in ("max", "-1"):
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def cgroup_cpu_limit(path: Path = CGROUP_CPU_MAX, v1_dir: Path = CGROUP_V1_CPU) -> int | None:
    """Cores allowed by the container's cgroup quota, rounded up; ``None`` when unlimited or unknown.

    cgroup v2 first (``cpu.max``: ``QUOTA PERIOD``); else cgroup v1 (``cpu.cfs_quota_us``, -1 when
    unlimited, and ``cpu.cfs_period_us``), which a container sees at ``/sys/fs/cgroup/cpu``."""
    try:
        quota, period = path.read_text(encoding="ascii").split()[:2]
        return _cores(quota, period)
    except (OSError, ValueError):
        pass
    try:
        quota = (v1_dir / "cpu.cfs_quota_us").read_text(encoding="ascii").strip()
        period = (v1_dir / "cpu.cfs_period_us").read_text(encoding="ascii").strip()
    except OSError:
        return None
    return _cores(quota, period)


def available_cpus() -> int:
    """Cores usable by this process: the smaller of its CPU affinity and its cgroup quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    return max(1, min(count, limit) if limit else count)


def threads_per_worker(configured: int, workers: int) -> int:
    """Inference threads for one worker: the configured number, or an equal share of the cores
    (0 in the config) so that workers × threads never exceeds the cores."""
    return configured or max(1, available_cpus() // max(1, workers))
