"""Run the real operator (``python -m ocr_operator``) as a subprocess against a test cluster.

Why a subprocess and not kopf.testing.KopfRunner: it exercises the entry point as deployed, keeps
kopf's global registry and threads out of the pytest process, and lets the benchmark measure the
operator's own peak RSS (VmHWM).  Used by the k8s tests and by ``bench/operator_scale.py``.

An operator serving namespaces (``namespaces``) starts only once none of them is still being deleted:
kopf stops handling events for good when a served namespace disappears during its first LIST there
(issue 14's stalled-operator flake; ``ocr_operator.watchdog`` makes that fail ``/healthz`` in a pod,
where the kubelet restarts the operator, but a test has no kubelet).  Earlier tests' namespaces
finishing their deletion are exactly what a glob-serving operator would meet at its start.

A glob-serving operator is also only "started" once its namespace and CRD watches are open: kopf
lists namespaces (and CRDs) once, then lists again to start its watch and ignores what that second
listing shows, so a namespace created between the two is not served until it changes (its deletion,
at the end of the test).  A test creates its namespace right after the start, inside that window on a
loaded machine; ``start`` waits until the API server counts one more WATCH on both.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.cluster.procs import ManagedProcess, free_ports

REPO_ROOT = Path(__file__).resolve().parents[2]
# How long ``start`` waits for served namespaces that are being deleted to go.
QUIET_NAMESPACES_TIMEOUT = 180.0
# How long ``start`` waits for kopf's namespace and CRD watches (then goes on: best effort).
WATCHES_TIMEOUT = 30.0
GLOB_CHARS = frozenset("*?[")


def open_watches(kubeconfig: Path | str) -> dict[str, float] | None:
    """WATCH requests the API server is serving, by cluster-scoped resource (its
    ``apiserver_longrunning_requests`` gauge); ``None`` when this kubeconfig may not read /metrics."""
    from kubernetes import config
    from kubernetes.client.rest import ApiException
    from kubernetes.dynamic import DynamicClient

    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        text = DynamicClient(api, discoverer=_NoDiscovery).request("get", "/metrics", serialize=False).data.decode()
    except ApiException as err:
        if err.status in (401, 403):
            return None
        raise
    finally:
        api.close()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("apiserver_longrunning_requests{") and 'verb="WATCH"' in line and 'scope="cluster"' in line:
            labels, value = line.rsplit(" ", 1)
            resource = labels.split('resource="', 1)[1].split('"', 1)[0]
            counts[resource] = counts.get(resource, 0.0) + float(value)
    return counts


class _NoDiscovery:
    """The dynamic client's discoverer, unused: the request names its path."""

    def __init__(self, *_: Any) -> None:
        pass


def terminating_namespaces(kubeconfig: Path | str, patterns: list[str]) -> list[str] | None:
    """Namespaces matching ``patterns`` (kopf's globs) that are being deleted; ``None`` when this
    kubeconfig may not list namespaces (an operator under a namespaced role)."""
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        items = json.loads(client.CoreV1Api(api).list_namespace(_preload_content=False).data)["items"]
    except ApiException as err:
        if err.status == 403:
            return None
        raise
    finally:
        api.close()
    return [
        ns["metadata"]["name"]
        for ns in items
        if (ns.get("status") or {}).get("phase") == "Terminating"
        and any(fnmatch.fnmatchcase(ns["metadata"]["name"], p) for p in patterns)
    ]


class OperatorProcess:
    """One operator process; ``start()`` returns once its liveness endpoint answers."""

    def __init__(
        self,
        kubeconfig: Path | str,
        log_path: Path,
        namespaces: str = "",
        peering: str = "",
        priority: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.kubeconfig = str(kubeconfig)
        self.log_path = log_path
        self.namespaces = namespaces
        self.peering = peering
        self.priority = priority
        self.extra_env = extra_env or {}
        self.port = free_ports(1)[0]
        # Its own process group, killed by the kernel if this process dies: never a stray operator.
        self.process: ManagedProcess | None = None
        self.command = [sys.executable, "-m", "ocr_operator"]

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    def wait_for_quiet_namespaces(self, timeout: float = QUIET_NAMESPACES_TIMEOUT) -> None:
        """Wait until no namespace this operator will serve is being deleted (see the module doc)."""
        patterns = [p.strip() for p in self.namespaces.split(",") if p.strip()]
        if not patterns:
            return  # cluster-wide: one watch per kind, none per namespace
        deadline = time.monotonic() + timeout
        while terminating := terminating_namespaces(self.kubeconfig, patterns):
            if time.monotonic() > deadline:
                raise RuntimeError(f"namespaces still terminating after {timeout:.0f}s: {terminating}")
            time.sleep(0.5)

    def _watched_resources(self) -> tuple[str, ...]:
        """The cluster-scoped kinds whose watch ``start`` waits for: only for a glob-serving operator,
        which is the one meant to serve namespaces created after its start."""
        if not any(GLOB_CHARS & set(p) for p in self.namespaces.split(",")):
            return ()
        return ("namespaces", "customresourcedefinitions")

    def wait_until_watching(self, before: dict[str, float] | None, timeout: float = WATCHES_TIMEOUT) -> None:
        """Wait until the API server serves one more WATCH on each of ``_watched_resources`` than
        ``before`` (see the module doc)."""
        resources = self._watched_resources()
        if before is None or not resources:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = open_watches(self.kubeconfig) or {}
            if all(now.get(r, 0.0) > before.get(r, 0.0) for r in resources):
                return
            time.sleep(0.2)

    def start(self, timeout: float = 60.0) -> OperatorProcess:
        self.wait_for_quiet_namespaces()
        watches_before = open_watches(self.kubeconfig) if self._watched_resources() else None
        env = {
            **os.environ,
            "KUBECONFIG": self.kubeconfig,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "operator")]),
            "WATCH_NAMESPACES": self.namespaces,
            "PEERING_NAME": self.peering,
            "LIVENESS_ENDPOINT": f"http://127.0.0.1:{self.port}/healthz",
            # OCR_TEST_OPERATOR_LOG_LEVEL=debug: kopf's own watch-stream and processing lines, to see
            # where a test operator that does nothing waits.
            "LOG_LEVEL": os.environ.get("OCR_TEST_OPERATOR_LOG_LEVEL", "info"),
            "LOG_FORMAT": "full" if os.environ.get("OCR_TEST_OPERATOR_LOG_LEVEL") == "debug" else "plain",
            "PYTHONUNBUFFERED": "1",
            # kopf's peering identity; without it, two local processes share user@host and
            # each mistakes the other for itself.
            "POD_ID": f"ocr-operator-{self.port}",
            **self.extra_env,
        }
        if self.priority is not None:
            env["OPERATOR_PRIORITY"] = str(self.priority)
        self.process = ManagedProcess("ocr-operator", self.command, self.log_path, env=env)
        self.process.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (code := self.process.exited()) is not None:
                raise RuntimeError(f"operator exited with {code}:\n{self.log()[-4000:]}")
            try:
                self.health()
            except OSError:
                time.sleep(0.2)
                continue
            self.wait_until_watching(watches_before)
            return self
        self.stop()
        raise RuntimeError(f"operator not healthy after {timeout}s:\n{self.log()[-4000:]}")

    def health(self) -> dict[str, Any]:
        """kopf's liveness endpoint: the probe results (reconciles, API requests)."""
        with urllib.request.urlopen(self.health_url, timeout=5) as resp:
            return json.loads(resp.read() or b"{}")

    def diagnose(self) -> str:
        """What a test prints when it timed out waiting for the operator: its liveness answer (the
        stall watchdog's verdict) and its threads' stacks (SIGUSR1, ``faulthandler``, into the log)."""
        try:
            verdict = f"healthz: {json.dumps(self.health())}"
        except urllib.error.HTTPError as err:
            verdict = f"healthz: HTTP {err.code} (see the log for the failed probe)"
        except OSError as err:
            verdict = f"healthz: no answer ({err})"
        if self.alive() and self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGUSR1)
                time.sleep(0.5)
        return verdict

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def peak_rss_mb(self) -> float:
        """Peak resident set size so far (VmHWM), in MiB."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("VmHWM not found")

    def alive(self) -> bool:
        return self.process is not None and self.process.exited() is None

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a node loss would: no handler finishes."""
        if self.process is not None and self.process.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.proc.pid, signal.SIGKILL)
            self.process.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (kopf leaves the peering and finishes handlers), then SIGKILL if it hangs."""
        if self.process is not None:
            self.process.stop(timeout)

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
