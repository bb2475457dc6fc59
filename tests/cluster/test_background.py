"""``up``/``serve``/``down`` of the cluster CLIs (tests/cluster/background.py), with a stand-in
cluster in a real detached process: real signals, pid file and kubeconfig publication, no binaries."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.cluster import background
from tests.cluster.background import StateFiles

REPO_ROOT = Path(__file__).resolve().parents[2]

# The background half of `up`, serving a cluster that only writes files: its kubeconfig when it
# starts, a marker when it is stopped.
SERVE = """
from pathlib import Path
from tests.cluster import background

class FakeCluster:
    kubeconfig = None
    server = "https://fake:6443"
    timings = {{"total": 1.5}}

    def start(self):
        self.kubeconfig = Path({work!r}) / "admin.kubeconfig"
        self.kubeconfig.write_text("kubeconfig of the fake\\n")

    def stop(self):
        (Path({work!r}) / "stopped").write_text("yes")

background.serve(FakeCluster(), background.StateFiles(Path({state!r}), "fake"))
"""


def serve_args(tmp_path: Path, files: StateFiles) -> list[str]:
    return ["-c", SERVE.format(work=str(tmp_path), state=str(files.directory))]


def test_up_publishes_the_kubeconfig_and_down_stops_the_cluster(tmp_path: Path) -> None:
    files = StateFiles(tmp_path / "state", "fake")
    assert background.start(serve_args(tmp_path, files), files, REPO_ROOT, timeout=60, poll=0.1, what="fake")
    assert files.running_pid() is not None
    assert files.kubeconfig.read_text() == "kubeconfig of the fake\n"
    assert stat.S_IMODE(files.kubeconfig.stat().st_mode) == 0o600  # it holds an admin client key
    assert "ready: https://fake:6443 in 1.5s" in files.log.read_text()

    assert background.terminate(files, timeout=30, poll=0.1)
    assert (tmp_path / "stopped").read_text() == "yes"  # SIGTERM ended `serve` through cluster.stop()
    assert files.running_pid() is None
    assert not files.pid_file.exists() and not files.kubeconfig.exists()
    assert not background.terminate(files, timeout=1, poll=0.1)  # nothing left to stop


def test_up_reports_a_server_that_exits_before_it_is_ready(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = StateFiles(tmp_path / "state", "fake")
    crash = ["-c", "import sys; print('etcd: address already in use'); sys.exit(3)"]
    assert not background.start(crash, files, REPO_ROOT, timeout=60, poll=0.1, what="fake cluster")
    err = capsys.readouterr().err
    assert "fake cluster failed to start" in err and "etcd: address already in use" in err
    assert not files.kubeconfig.exists()


def test_a_stale_pid_file_is_not_a_running_cluster(tmp_path: Path) -> None:
    files = StateFiles(tmp_path, "fake")
    assert files.running_pid() is None  # no file
    files.pid_file.write_text("not a pid\n")
    assert files.running_pid() is None
    files.pid_file.write_text("999999999\n")  # above any pid_max: no such process
    assert files.running_pid() is None
