"""A real, throw-away Kubernetes control plane for tests: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok (fake nodes), all on loopback.

Why not mocks: CRD schema and CEL validation, server-side apply, owner
references and garbage collection, admission (PodSecurity) and watches only
behave truly in a real API server. Like controller-runtime's envtest, but with
the controllers and the scheduler running and KWOK playing the kubelets, so
Deployments really roll out and pods really reach Running/Ready.  A pod annotated
`tests.ocr-crnn.io/never-ready: "true"` (NEVER_READY_ANNOTATION) stays Running but never
Ready, so a test can make a rollout stuck (tests/cluster/kwok/pod-never-ready.yaml).

Binaries come from `tests/cluster/build.sh` (into `.tools/bin`). Usage:

    with LocalCluster() as cluster:
        cluster.kubectl("get", "nodes")

or `python -m tests.cluster.launcher up|down|status` for `make cluster-up` /
`make cluster-down` (kubeconfig in `.tools/cluster/kubeconfig`).
"""

from __future__ import annotations

import argparse
import atexit
import base64
import http.client
import json
import logging
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tests.cluster import background
from tests.cluster.procs import ManagedProcess, free_ports, wait_until

if TYPE_CHECKING:  # pki needs `cryptography`; import it only when a cluster starts
    from tests.cluster.pki import CertPair, ClusterPKI

log = logging.getLogger("tests.cluster")

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = Path(os.environ.get("TOOLS_DIR", REPO_ROOT / ".tools"))
DEFAULT_BIN_DIR = TOOLS_DIR / "bin"
KWOK_STAGES = TOOLS_DIR / "share" / "kwok-stages.yaml"
# The project's own stages, loaded after the release's (see the file for why they take precedence).
KWOK_TEST_STAGES = Path(__file__).resolve().parent / "kwok" / "pod-never-ready.yaml"
BUILD_HINT = "run `make cluster-build` (tests/cluster/build.sh)"
REQUIRED_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl", "helm")

# The Service range; its first address is the ClusterIP of the `kubernetes` Service.
SERVICE_CIDR = "10.0.0.0/24"
KUBERNETES_SERVICE_IP = "10.0.0.1"
WORKDIR_PREFIX = "ocr-crnn-cluster-"
OWNER_FILE = "owner.pid"  # lets a later start remove dirs of SIGKILLed owners
# Annotation kwok uses to pick the nodes it plays the kubelet for.
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
# Pod annotation that keeps a pod Running but never Ready (a failing readiness probe), for stuck
# rollouts; the stage is tests/cluster/kwok/pod-never-ready.yaml.
NEVER_READY_ANNOTATION = ("tests.ocr-crnn.io/never-ready", "true")


class ClusterError(RuntimeError):
    """The cluster could not be started; the message carries the component logs."""


class CommandError(subprocess.CalledProcessError):
    """A failed kubectl/helm call whose message includes its stderr (pytest shows it)."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def missing_binaries(bin_dir: Path = DEFAULT_BIN_DIR) -> list[str]:
    """Names of the tools build.sh has not produced yet (empty when all are there)."""
    missing = [b for b in REQUIRED_BINARIES if not os.access(bin_dir / b, os.X_OK)]
    if not KWOK_STAGES.is_file():
        missing.append(str(KWOK_STAGES))
    return missing


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(path: Path, server: str, ca: Path, client: CertPair, user: str) -> None:
    """A self-contained kubeconfig (certs embedded), so it survives being copied."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server, "certificate-authority-data": _b64(ca)}}],
        "users": [
            {"name": user, "user": {"client-certificate-data": _b64(client.cert), "client-key-data": _b64(client.key)}}
        ],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": user, "namespace": "default"}}],
        "current-context": "local",
    }
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML; no yaml dependency needed
    path.chmod(0o600)


class _Api:
    """Minimal HTTPS client for readiness polling, independent of kubectl/kubernetes.

    Why: each kubectl call costs a process start and API discovery; polling
    through http.client keeps the cluster start fast and dependency-free.
    """

    def __init__(self, host: str, port: int, ca: Path | None, client: CertPair | None) -> None:
        self.host, self.port = host, port
        self.ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
        if ca is None:  # components' self-signed serving certs: loopback health checks only
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE
        if client:
            self.ctx.load_cert_chain(str(client.cert), str(client.key))

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=5)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if payload else {}
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw.decode(errors="replace")

    def ok(self, path: str) -> bool:
        return self.request("GET", path)[0] == 200


def _node_manifest(name: str) -> dict[str, Any]:
    """A Node object kwok will adopt (by annotation) and keep Ready with leases."""
    key, value = KWOK_NODE_ANNOTATION
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {key: value, "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        # No kwok taint: every node here is fake, so workloads must land on them as-is.
        "spec": {},
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux", "kubeletVersion": "fake"},
        },
    }


def _node_ready(node: dict[str, Any]) -> bool:
    conditions = node.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


class LocalCluster:
    """A local control plane plus fake nodes; start()/stop() or use as a context manager.

    Attributes once started: `kubeconfig` (admin kubeconfig path), `server`
    (API URL), `bin_dir`, `workdir` (temp dir with certs, data and logs),
    `timings` (seconds per start phase).
    """

    def __init__(
        self,
        bin_dir: Path | str = DEFAULT_BIN_DIR,
        nodes: int = 2,
        startup_timeout: float = 120.0,
        keep_workdir: bool = False,
    ) -> None:
        self.bin_dir = Path(bin_dir)
        self.node_names = [f"kwok-node-{i}" for i in range(nodes)]
        self.startup_timeout = startup_timeout
        self.keep_workdir = keep_workdir or os.environ.get("OCR_CLUSTER_KEEP") == "1"
        self.workdir: Path | None = None
        self.kubeconfig: Path | None = None
        self.server: str | None = None
        self.timings: dict[str, float] = {}
        self._procs: list[ManagedProcess] = []
        self._api: _Api | None = None
        self._lock = threading.Lock()
        # Where kube-apiserver listens and what it advertises; the real-node mode
        # (tests/cluster/node.py) uses the node IP so pods reach it through the `kubernetes` Service.
        self.api_host = "127.0.0.1"

    # ---- lifecycle ---------------------------------------------------------

    def start(self, attempts: int = 3) -> LocalCluster:
        """Start every component and wait until the cluster can run pods.

        Retries with fresh ports when a port picked as free was taken meanwhile.
        """
        missing = missing_binaries(self.bin_dir)
        if missing:
            raise ClusterError(f"missing {', '.join(missing)} in {self.bin_dir}: {BUILD_HINT}")
        for attempt in range(1, attempts + 1):
            atexit.register(self.stop)  # stop() unregisters it again
            try:
                self._start_once()
                return self
            except ClusterError as err:
                port_clash = "address already in use" in str(err)
                self.stop()
                self.timings.clear()
                if not port_clash or attempt == attempts:
                    raise
                log.warning("port clash on attempt %d, retrying with new ports", attempt)
            except BaseException:  # KeyboardInterrupt, SystemExit: never leave processes behind
                self.stop()
                raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop all components (reverse start order) and remove the temp dir. Idempotent."""
        atexit.unregister(self.stop)
        with self._lock:
            for proc in reversed(self._procs):
                proc.stop()
            self._procs.clear()
            if self.workdir and self.keep_workdir:
                log.info("keeping cluster dir %s (logs, certs, etcd data)", self.workdir)
            elif self.workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = self.kubeconfig = self.server = self._api = None

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- client helpers ----------------------------------------------------

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `.tools/bin/kubectl --kubeconfig <this cluster> ARGS` and capture its output."""
        assert self.kubeconfig and self.workdir, "cluster is not started"
        argv = [
            str(self.bin_dir / "kubectl"),
            "--kubeconfig",
            str(self.kubeconfig),
            "--cache-dir",
            str(self.workdir / "kube-cache"),
            *args,
        ]
        return self._run(argv, check, input)

    def helm(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `.tools/bin/helm --kubeconfig <this cluster> ARGS` with private helm dirs."""
        assert self.kubeconfig and self.workdir, "cluster is not started"
        helm_home = self.workdir / "helm"
        env = {
            **os.environ,
            "HELM_CACHE_HOME": str(helm_home / "cache"),
            "HELM_CONFIG_HOME": str(helm_home / "config"),
            "HELM_DATA_HOME": str(helm_home / "data"),
        }
        argv = [str(self.bin_dir / "helm"), "--kubeconfig", str(self.kubeconfig), *args]
        return self._run(argv, check, input, env)

    @staticmethod
    def _run(
        argv: list[str], check: bool, input: str | None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(argv, input=input, capture_output=True, text=True, env=env, timeout=300)
        if check and result.returncode != 0:
            raise CommandError(result.returncode, argv, result.stdout, result.stderr)
        return result

    # ---- start phases ------------------------------------------------------

    def _start_once(self) -> None:
        t0 = time.monotonic()
        _sweep_stale_workdirs()
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        (self.workdir / OWNER_FILE).write_text(str(os.getpid()))
        for sub in ("logs", "pki", "etcd"):
            (self.workdir / sub).mkdir(mode=0o700)
        ports = dict(zip(("etcd", "etcd_peer", "apiserver", "kcm", "scheduler", "kwok"), free_ports(6), strict=True))
        pki = self._make_pki()
        self._phase("pki", t0)
        self._start_etcd(ports)
        self._start_apiserver(ports, pki)
        self._start_rest(ports, pki)
        self.timings["total"] = round(time.monotonic() - t0, 2)
        log.info("cluster up at %s in %.1fs %s", self.server, self.timings["total"], self.timings)

    def _phase(self, name: str, since: float) -> None:
        self.timings[name] = round(time.monotonic() - since, 2)

    def _make_pki(self) -> dict[str, Any]:
        from tests.cluster.pki import ClusterPKI

        assert self.workdir
        pki = ClusterPKI(self.workdir / "pki")
        return {
            "pki": pki,
            "serving": pki.serving(KUBERNETES_SERVICE_IP),
            "admin": pki.client("admin", "admin", "system:masters"),
            # Controllers run with the manager's own identity (no per-controller
            # ServiceAccount tokens): fetching ~30 tokens serially costs ~4s per start.
            "kcm": pki.client("kcm", "system:kube-controller-manager", "system:masters"),
            "scheduler": pki.client("scheduler", "system:kube-scheduler"),
            # kwok plays every kubelet (node + pod status, leases): give it full rights.
            "kwok": pki.client("kwok", "kwok", "system:masters"),
            # The aggregator's identity towards extension API servers (front proxy).
            "front-proxy": pki.client("front-proxy", "front-proxy-client"),
        }

    def _spawn(self, name: str, *args: str) -> ManagedProcess:
        assert self.workdir
        proc = ManagedProcess(name, [str(self.bin_dir / name), *args], self.workdir / "logs" / f"{name}.log")
        proc.start()
        self._procs.append(proc)
        return proc

    def _wait(self, predicate: Callable[[], object], what: str, timeout: float | None = None) -> None:
        """wait_until, but fail fast (with logs) as soon as any component dies."""

        def check() -> object:
            for proc in self._procs:
                code = proc.exited()
                if code is not None:
                    raise ClusterError(
                        f"{proc.name} exited with code {code} while waiting for {what}:\n{proc.log_tail()}"
                    )
            return predicate()

        try:
            wait_until(check, timeout or self.startup_timeout, what=what)
        except TimeoutError as err:
            raise ClusterError(f"{err}\n{self._logs_digest()}") from None

    def _logs_digest(self) -> str:
        return "\n".join(f"--- {p.name} (last lines) ---\n{p.log_tail(15)}" for p in self._procs)

    def _start_etcd(self, ports: dict[str, int]) -> None:
        assert self.workdir
        t0 = time.monotonic()
        client, peer = f"http://127.0.0.1:{ports['etcd']}", f"http://127.0.0.1:{ports['etcd_peer']}"
        self._spawn(
            "etcd",
            "--name=test",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=test={peer}",
            "--listen-metrics-urls=",
            "--log-level=warn",
            # Test data is disposable: skip fsync, the single biggest etcd latency.
            "--unsafe-no-fsync=true",
        )
        self._wait(lambda: _http_ok(ports["etcd"], "/health"), "etcd /health")
        self._phase("etcd", t0)

    def _start_apiserver(self, ports: dict[str, int], pki: dict[str, Any]) -> None:
        t0 = time.monotonic()
        ca: ClusterPKI = pki["pki"]
        self._spawn(
            "kube-apiserver",
            f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
            f"--bind-address={self.api_host}",
            f"--advertise-address={self.api_host}",
            f"--secure-port={ports['apiserver']}",
            f"--tls-cert-file={pki['serving'].cert}",
            f"--tls-private-key-file={pki['serving'].key}",
            f"--client-ca-file={ca.ca.cert}",
            # Front-proxy (request header) auth, as kubeadm sets it up: aggregated
            # APIs work and the controllers stop logging a missing CA bundle.
            f"--requestheader-client-ca-file={ca.ca.cert}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki['front-proxy'].cert}",
            f"--proxy-client-key-file={pki['front-proxy'].key}",
            "--authorization-mode=RBAC",
            # PodSecurity is on by default in 1.34; name it so it can't silently go away.
            "--enable-admission-plugins=PodSecurity",
            "--allow-privileged=true",  # so PodSecurity, not a global switch, rejects privileged pods
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={ca.sa_pub}",
            f"--service-account-signing-key-file={ca.sa_key}",
            # The `kubernetes` Endpoints may not point at loopback; nothing runs in-cluster here anyway.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            "--v=1",
            *self._apiserver_extra_args(),  # later flags win over the defaults above
        )
        self.server = f"https://{self.api_host}:{ports['apiserver']}"
        self._api = _Api(self.api_host, ports["apiserver"], ca.ca.cert, pki["admin"])
        self._wait(lambda: self._api and self._api.ok("/readyz"), "kube-apiserver /readyz")
        self._phase("apiserver", t0)

    def _apiserver_extra_args(self) -> list[str]:
        """Extra kube-apiserver flags for subclasses (the real-node mode); none here."""
        return []

    def _kcm_extra_args(self) -> list[str]:
        """Extra kube-controller-manager flags for subclasses (the real-node mode); none here."""
        return []

    def _component_kubeconfig(self, name: str, ca: Path, pair: CertPair) -> Path:
        assert self.workdir and self.server
        path = self.workdir / f"{name}.kubeconfig"
        write_kubeconfig(path, self.server, ca, pair, name)
        return path

    def _start_rest(self, ports: dict[str, int], pki: dict[str, Any]) -> None:
        """Start the controllers, scheduler and kwok together; they only need the API."""
        assert self.workdir
        t0 = time.monotonic()
        ca: ClusterPKI = pki["pki"]
        kubeconfig = {
            name: self._component_kubeconfig(name, ca.ca.cert, pki[name])
            for name in ("admin", "kcm", "scheduler", "kwok")
        }
        self.kubeconfig, kcm_cfg = kubeconfig["admin"], kubeconfig["kcm"]
        sched_cfg, kwok_cfg = kubeconfig["scheduler"], kubeconfig["kwok"]
        delegated = ("--bind-address=127.0.0.1", "--leader-elect=false", "--v=1")
        self._spawn(
            "kube-controller-manager",
            *delegated,
            f"--kubeconfig={kcm_cfg}",
            f"--authentication-kubeconfig={kcm_cfg}",
            f"--authorization-kubeconfig={kcm_cfg}",
            f"--secure-port={ports['kcm']}",
            # All default controllers: garbage collector, deployment, replicaset, HPA, namespace, ...
            "--controllers=*",
            "--use-service-account-credentials=false",
            f"--service-account-private-key-file={ca.sa_key}",
            f"--root-ca-file={ca.ca.cert}",
            f"--cluster-signing-cert-file={ca.ca.cert}",
            f"--cluster-signing-key-file={ca.ca.key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # Faster than the 15s default so HPA tests need not wait long.
            "--horizontal-pod-autoscaler-sync-period=2s",
            *self._kcm_extra_args(),
        )
        self._spawn(
            "kube-scheduler",
            *delegated,
            f"--kubeconfig={sched_cfg}",
            f"--authentication-kubeconfig={sched_cfg}",
            f"--authorization-kubeconfig={sched_cfg}",
            f"--secure-port={ports['scheduler']}",
        )
        key, value = KWOK_NODE_ANNOTATION
        if not self.node_names:  # no fake nodes (e.g. a real node joins instead): no kwok either
            self._create_nodes()
            self._wait_for_components(ports)
            self._phase("controllers+nodes", t0)
            return
        self._spawn(
            "kwok",
            f"--kubeconfig={kwok_cfg}",
            f"--config={KWOK_STAGES}",
            f"--config={KWOK_TEST_STAGES}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={key}={value}",
            "--cidr=10.244.0.0/16",
            "--node-ip=127.0.0.1",
            "--node-lease-duration-seconds=40",
            f"--server-address=127.0.0.1:{ports['kwok']}",
        )
        self._create_nodes()
        self._wait_for_components(ports)
        self._phase("controllers+nodes", t0)

    def _create_nodes(self) -> None:
        assert self._api
        for name in self.node_names:
            status, body = self._api.request("POST", "/api/v1/nodes", _node_manifest(name))
            if status not in (201, 409):
                raise ClusterError(f"creating node {name} failed: HTTP {status} {body}")

    def _wait_for_components(self, ports: dict[str, int]) -> None:
        api = self._api
        assert api
        kcm = _Api("127.0.0.1", ports["kcm"], None, None)
        sched = _Api("127.0.0.1", ports["scheduler"], None, None)
        self._wait(lambda: kcm.ok("/healthz"), "kube-controller-manager /healthz")
        self._wait(lambda: sched.ok("/healthz"), "kube-scheduler /healthz")

        def nodes_ready() -> bool:
            _, body = api.request("GET", "/api/v1/nodes")
            return len([n for n in body["items"] if _node_ready(n)]) == len(self.node_names)

        self._wait(nodes_ready, "kwok nodes Ready")
        # Pods can only be created once the serviceaccount controller made `default`.
        self._wait(
            lambda: api.ok("/api/v1/namespaces/default/serviceaccounts/default"),
            "the default ServiceAccount (controller-manager working)",
        )


def _sweep_stale_workdirs() -> None:
    """Remove temp dirs of clusters whose owner was SIGKILLed (no finalizer could run).

    Their processes are already gone (PDEATHSIG); only the directory is left.
    """
    for path in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        try:
            owner = int((path / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or being created right now
        if owner != os.getpid() and not Path(f"/proc/{owner}").exists():
            shutil.rmtree(path, ignore_errors=True)


def _http_ok(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    finally:
        conn.close()


# ---- CLI: `make cluster-up` / `make cluster-down` ---------------------------

FILES = background.StateFiles(TOOLS_DIR / "cluster", "launcher")


def _up(nodes: int, timeout: float) -> int:
    """Start `serve` detached, wait until its kubeconfig appears, then return."""
    if (pid := FILES.running_pid()) is not None:
        print(f"cluster already running (pid {pid}); kubeconfig: {FILES.kubeconfig}")
        return 0
    missing = missing_binaries()
    if missing:
        print(f"missing {', '.join(missing)}: {BUILD_HINT}", file=sys.stderr)
        return 2
    serve_args = ["-m", "tests.cluster.launcher", "serve", f"--nodes={nodes}"]
    if not background.start(serve_args, FILES, REPO_ROOT, timeout, poll=0.2, what="cluster"):
        _down(timeout=15)
        return 1
    print(f"export KUBECONFIG={FILES.kubeconfig}  # kubectl: {DEFAULT_BIN_DIR / 'kubectl'}")
    return 0


def _down(timeout: float = 30) -> int:
    print("cluster stopped" if background.terminate(FILES, timeout, poll=0.2) else "no cluster running")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster.launcher", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "serve"])
    parser.add_argument("--nodes", type=int, default=2, help="number of kwok fake nodes")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for `up`")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.command == "up":
        return _up(args.nodes, args.timeout)
    if args.command == "down":
        return _down()
    if args.command == "serve":
        return background.serve(LocalCluster(nodes=args.nodes), FILES)
    pid = FILES.running_pid()
    print(f"running (pid {pid}), kubeconfig {FILES.kubeconfig}" if pid else "not running")
    return 0 if pid else 1


if __name__ == "__main__":
    sys.exit(main())
