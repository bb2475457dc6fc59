"""A cluster kept running in a detached process, for the command lines of ``launcher.py``
(``make cluster-up``) and ``node.py`` (``make demo``).

Both CLIs work the same way: ``up`` starts ``python -m <module> serve`` in its own session and waits
for the kubeconfig it publishes; ``serve`` runs the cluster until SIGTERM/SIGINT; ``down`` signals it
through the pid file.  The files, the signal handling and the atomic kubeconfig publication live
here once; each CLI keeps what differs (the cluster it builds, its checks, its cleanup).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class Servable(Protocol):
    """What ``serve`` needs of a cluster (``LocalCluster`` and ``RealNodeCluster`` both are)."""

    kubeconfig: Path | None
    server: str
    timings: dict[str, Any]

    def start(self) -> Any: ...

    def stop(self) -> Any: ...


@dataclass(frozen=True)
class StateFiles:
    """Where one CLI's background cluster keeps its pid, its published kubeconfig and its log."""

    directory: Path
    name: str  # the pid and log files are <name>.pid and <name>.log

    @property
    def pid_file(self) -> Path:
        return self.directory / f"{self.name}.pid"

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def log(self) -> Path:
        return self.directory / f"{self.name}.log"

    def running_pid(self) -> int | None:
        """The pid in the pid file if that process is alive."""
        return read_pid(self.pid_file)


def read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if that process is alive."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def serve(cluster: Servable, files: StateFiles) -> int:
    """Run ``cluster`` in this process until SIGTERM/SIGINT (the background half of ``up``), with its
    kubeconfig published at ``files.kubeconfig`` while it runs."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        cluster.start()
        assert cluster.kubeconfig
        files.directory.mkdir(parents=True, exist_ok=True)
        partial = files.kubeconfig.with_suffix(".tmp")
        shutil.copyfile(cluster.kubeconfig, partial)
        partial.chmod(0o600)
        partial.replace(files.kubeconfig)  # atomic: `up` polls for this file
        print(f"ready: {cluster.server} in {cluster.timings['total']}s {cluster.timings}", flush=True)
        stop.wait()
    finally:
        cluster.stop()
        files.kubeconfig.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            if files.pid_file.read_text().strip() == str(os.getpid()):
                files.pid_file.unlink()
    return 0


def start(serve_args: Sequence[str], files: StateFiles, cwd: Path, timeout: float, poll: float, what: str) -> bool:
    """Start ``python <serve_args>`` detached (it survives the terminal or make that started it) and
    wait until it publishes its kubeconfig; ``False`` (the log's tail printed) if it exits or times
    out first.  The caller stops what is left with its own ``down``."""
    files.directory.mkdir(parents=True, exist_ok=True)
    files.kubeconfig.unlink(missing_ok=True)
    with files.log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, *serve_args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    files.pid_file.write_text(f"{child.pid}\n")
    deadline = time.monotonic() + timeout
    while not files.kubeconfig.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            print(f"{what} failed to start; log {files.log}:\n{files.log.read_text()[-4000:]}", file=sys.stderr)
            return False
        time.sleep(poll)
    print(files.log.read_text().strip().splitlines()[-1])
    return True


def terminate(files: StateFiles, timeout: float, poll: float) -> bool:
    """SIGTERM the background process and wait for it; SIGKILL its process group (its children die
    with it) if it outlives ``timeout``.  ``False`` if none was running."""
    pid = files.running_pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while files.running_pid() is not None and time.monotonic() < deadline:
            time.sleep(poll)
        if files.running_pid() is not None:
            os.killpg(pid, signal.SIGKILL)
    files.pid_file.unlink(missing_ok=True)
    return pid is not None
