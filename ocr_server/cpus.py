"""How many CPU cores this process may really use, container limits included.

``os.cpu_count()`` reports the host's cores; a pod limited to 2 CPUs on a 64-core node would
then start 64 inference threads per worker and thrash.  The cgroup v2 quota (``cpu.max``) and
the scheduler affinity are both honoured.  Standard library only: gunicorn's master imports this.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def cgroup_cpu_limit(path: Path = CGROUP_CPU_MAX) -> int | None:
    """Cores allowed by the cgroup v2 quota, rounded up; ``None`` when unlimited or unknown."""
    try:
        quota, period = path.read_text(encoding="ascii").split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


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
