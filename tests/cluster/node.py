"""A real Kubernetes node next to the local control plane: containerd, kubelet, kube-proxy, CoreDNS and
metrics-server on this machine, so pods really run (KWOK only pretends).

Why: probes, the restricted securityContext, CPU limits, Services, the HPA and rolling updates only
meet reality on a real node. The KWOK mode (launcher.py) stays for fast tests; this mode is for the
end-to-end tests in tests/e2e/ and for `make demo`.

Needs root (cgroups, veth, iptables), Debian's `containerd runc containernetworking-plugins
iptables`, and `tests/cluster/build.sh node coredns metrics-server` (`make node-build`).

Host changes, all undone by `stop()` (and by the next start if an owner was SIGKILLed, using the
record in /run/ocr-crnn-real-node.json):
- a veth pair carrying the node IP (10.200.0.1/24) and a route for the Service range over it, a
  CNI bridge with its own pod range (10.88.0.0/24): no uplink, no masquerade, nothing leaves the
  machine;
- sysctls (ip_forward, bridge-nf-call-iptables, and those the kubelet sets) saved and restored;
- kube-proxy's and the kubelet's iptables chains, the kubepods cgroups, mounts under the node dir.
Only one real node can run on a machine at a time (fixed ports and names): a lock file says so.

Usage:

    with RealNodeCluster() as cluster:      # images from tests/cluster/images.py, imported
        cluster.kubectl("get", "nodes")

or `python -m tests.cluster.node up|down|status|cleanup` (make demo / demo-down).
"""

from __future__ import annotations

import argparse
import atexit
import concurrent.futures
import contextlib
import fcntl
import json
import logging
import os
import shlex
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from tests.cluster import background
from tests.cluster import images as image_cache
from tests.cluster.launcher import (
    BUILD_HINT,
    KUBERNETES_SERVICE_IP,
    ClusterError,
    LocalCluster,
    _sweep_stale_workdirs,
    missing_binaries,
    write_kubeconfig,
)
from tests.cluster.procs import ManagedProcess, wait_until

log = logging.getLogger("tests.cluster.node")

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_FILES = Path(__file__).resolve().parent / "node"
NODE_BUILD_HINT = "run `make node-build` (tests/cluster/build.sh node coredns metrics-server)"

NODE_NAME = "ocr-node"
NODE_IP = "10.200.0.1"
NODE_CIDR = "10.200.0.0/24"
VETH, VETH_PEER = "ocrnode0", "ocrnode0p"
BRIDGE = "ocrcni0"
POD_CIDR = "10.88.0.0/24"
POD_GATEWAY = "10.88.0.1"
SERVICE_CIDR = "10.0.0.0/24"  # the launcher's --service-cluster-ip-range
DNS_IP = "10.0.0.10"
CNI_BIN_DIR = Path("/usr/lib/cni")
NODE_BINARIES = ("kubelet", "kube-proxy")
HOST_SERVICES = ("coredns", "metrics-server")  # required by missing_node_requirements; started when built
HOST_COMMANDS = ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "iptables-save", "ip", "mount")
LOCK_FILE = Path("/run/ocr-crnn-real-node.lock")
# How long a start waits for another real node on this machine to finish (another checkout's tests,
# a demo) before giving up: the suites serialise instead of failing each other.
LOCK_WAIT_S = float(os.environ.get("OCR_REAL_NODE_LOCK_WAIT", "480"))
HOST_RECORD = Path("/run/ocr-crnn-real-node.json")
NODE_DIR_PREFIX = "ocr-crnn-node-"
# Saved before the node starts and written back after: ours (ip_forward, bridge-nf-call-iptables)
# and those the kubelet sets on start (setupKernelTunables) or kube-proxy may set.
SYSCTLS = (
    "net.ipv4.ip_forward",
    "net.bridge.bridge-nf-call-iptables",
    "net.ipv4.conf.all.route_localnet",
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
)
CHAIN_PREFIXES = ("KUBE-", "CNI-")
# Paths a kubelet/containerd/CNI may create outside the node dir despite our settings; removed at
# teardown only when they did not exist before the start.
STRAY_PATHS = (
    "/var/lib/kubelet",
    "/var/log/pods",
    "/var/log/containers",
    "/var/lib/cni",
    "/var/run/netns",
    "/run/containerd",
    "/var/lib/containerd",
    "/opt/containerd",
    "/etc/cni",
)
CGROUP_ROOT = Path("/sys/fs/cgroup")


# ---- requirements ----------------------------------------------------------


def missing_node_requirements(bin_dir: Path | None = None) -> list[str]:
    """What this machine lacks for a real node (empty when it can run one); messages say how to fix."""
    from tests.cluster.launcher import DEFAULT_BIN_DIR

    bin_dir = bin_dir or DEFAULT_BIN_DIR
    missing = [f"{m} ({BUILD_HINT})" for m in missing_binaries(bin_dir)]
    missing += [
        f"{b} ({NODE_BUILD_HINT})" for b in (*NODE_BINARIES, *HOST_SERVICES) if not os.access(bin_dir / b, os.X_OK)
    ]
    if os.geteuid() != 0:
        missing.append("root (cgroups, veth, iptables)")
    missing += [f"{c} (apt-get install containerd runc iptables)" for c in HOST_COMMANDS if shutil.which(c) is None]
    missing += [
        f"{CNI_BIN_DIR / p} (apt-get install containernetworking-plugins)"
        for p in ("bridge", "host-local", "loopback", "portmap")
        if not (CNI_BIN_DIR / p).is_file()
    ]
    missing += [f"{t} (apt-get install buildah debootstrap gcc)" for t in image_cache.missing_tools()]
    return missing


# ---- host changes: make them, record them, undo them -------------------------


def _sh(*argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise ClusterError(f"{shlex.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def _read_sysctls() -> dict[str, str]:
    values = {}
    for name in SYSCTLS:
        with contextlib.suppress(OSError):
            values[name] = _sysctl_path(name).read_text().strip()
    return values


def _write_sysctl(name: str, value: str) -> None:
    with contextlib.suppress(OSError):  # e.g. br_netfilter not loaded: nothing to restore either
        _sysctl_path(name).write_text(value)


def _chains(family: str) -> dict[str, list[str]]:
    """table -> its `-A ...` lines (iptables-save syntax) for one of iptables/ip6tables."""
    out: dict[str, list[str]] = {}
    for table in ("filter", "nat", "mangle"):
        result = _sh(f"{family}-save", "-t", table, check=False)
        out[table] = result.stdout.splitlines() if result.returncode == 0 else []
    return out


def _ours(name: str) -> bool:
    return name.startswith(CHAIN_PREFIXES)


def remove_iptables_chains() -> list[str]:
    """Delete every rule jumping to a KUBE-*/CNI-* chain and those chains (iptables and ip6tables).

    Why generic: kube-proxy --cleanup removes its own chains, but the kubelet (KUBE-FIREWALL,
    canaries, KUBE-IPTABLES-HINT) and CNI's portmap leave theirs. Returns what is still left.
    """
    left: list[str] = []
    for family in ("iptables", "ip6tables"):
        if shutil.which(family) is None:
            continue
        for table, lines in _chains(family).items():
            ours = [ln.split()[0][1:] for ln in lines if ln.startswith(":") and _ours(ln.split()[0][1:])]
            for line in lines:
                if not line.startswith("-A "):
                    continue
                args = shlex.split(line)
                chain, target = args[1], args[args.index("-j") + 1] if "-j" in args else ""
                if not _ours(chain) and _ours(target):
                    _sh(family, "-t", table, "-D", *args[1:], check=False)
            for chain in ours:
                _sh(family, "-t", table, "-F", chain, check=False)
            for chain in ours:
                _sh(family, "-t", table, "-X", chain, check=False)
        for table, lines in _chains(family).items():
            left += [f"{family} {table}: {ln}" for ln in lines if any(p in ln for p in CHAIN_PREFIXES)]
    return left


def _kubepods_cgroups() -> list[Path]:
    return [d for d in CGROUP_ROOT.glob("*/kubepods") if d.is_dir()] + (
        [CGROUP_ROOT / "kubepods"] if (CGROUP_ROOT / "kubepods").is_dir() else []
    )


def _kill_cgroup_processes() -> None:
    """SIGKILL every process in the kubepods cgroups: the pods' containers, whatever they forked."""
    for _ in range(20):  # bounded: a fork storm cannot keep us here
        pids = set()
        for root in _kubepods_cgroups():
            for procs in root.rglob("cgroup.procs"):
                with contextlib.suppress(OSError):
                    pids.update(int(p) for p in procs.read_text().split())
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _remove_cgroups() -> list[str]:
    left = []
    for root in _kubepods_cgroups():
        for _ in range(10):
            for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
                with contextlib.suppress(OSError):
                    d.rmdir()
            with contextlib.suppress(OSError):
                root.rmdir()
            if not root.exists():
                break
            time.sleep(0.3)  # the kernel frees a cgroup shortly after its last process exits
        if root.exists():
            left.append(str(root))
    return left


def _processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains `text` (our node dir): containerd shims that outlive containerd."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if text in proc.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                pids.append(int(proc.name))
    return pids


def _unmount_under(directory: str) -> None:
    """Unmount (lazily, deepest first) everything mounted below `directory`: overlays, netns, volumes."""
    for _ in range(5):
        mounts = []
        with contextlib.suppress(OSError):
            for line in Path("/proc/self/mounts").read_text().splitlines():
                point = line.split()[1].replace("\\040", " ")
                if point.startswith(directory.rstrip("/") + "/"):
                    mounts.append(point)
        if not mounts:
            return
        for point in sorted(set(mounts), key=len, reverse=True):
            _sh("umount", "-l", point, check=False)


def cleanup_host(record: dict[str, Any], kube_proxy: Path | None = None) -> list[str]:
    """Undo every host change a real node made (see the module docstring); returns what is left.

    Works from the record alone, so it also cleans up after an owner that was SIGKILLed.
    """
    node_dir = record.get("node_dir", "")
    _kill_cgroup_processes()
    if node_dir:
        for pid in _processes_mentioning(node_dir):  # shims, a leftover containerd
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        _unmount_under(node_dir)
    if kube_proxy and kube_proxy.is_file():
        _sh(str(kube_proxy), "--cleanup", check=False, timeout=60)
    left = remove_iptables_chains()
    for link in (BRIDGE, VETH):
        if Path(f"/sys/class/net/{link}").exists():
            _sh("ip", "link", "del", link, check=False)
            if Path(f"/sys/class/net/{link}").exists():
                left.append(f"link {link}")
    left += _remove_cgroups()
    for name, value in record.get("sysctls", {}).items():
        _write_sysctl(name, value)
    now = _read_sysctls()
    left += [f"sysctl {k}={now.get(k)} (was {v})" for k, v in record.get("sysctls", {}).items() if now.get(k) != v]
    for path in STRAY_PATHS:
        if path not in record.get("existing_paths", []) and os.path.lexists(path):
            _unmount_under(path)
            shutil.rmtree(path, ignore_errors=True)
    if node_dir and Path(node_dir).exists():
        shutil.rmtree(node_dir, ignore_errors=True)
        if Path(node_dir).exists():
            left.append(f"dir {node_dir}")
    HOST_RECORD.unlink(missing_ok=True)
    return left


def sweep_stale_node(kube_proxy: Path | None = None) -> None:
    """Clean up after a real node whose owner died without stopping it (no live owner holds the lock)."""
    try:
        record = json.loads(HOST_RECORD.read_text())
    except (OSError, ValueError):
        return
    owner = int(record.get("owner", 0))
    if owner and owner != os.getpid() and Path(f"/proc/{owner}").exists():
        return  # alive: its own stop() will clean up
    log.warning("cleaning up a real node left by pid %s (%s)", owner, record.get("node_dir"))
    left = cleanup_host(record, kube_proxy)
    if left:
        log.warning("stale real node: could not remove %s", left)


def host_leftovers() -> list[str]:
    """Anything a real node leaves on the host when none runs: for tests of teardown, and `status`."""
    left = [f"link {link}" for link in (BRIDGE, VETH) if Path(f"/sys/class/net/{link}").exists()]
    left += [str(p) for p in _kubepods_cgroups()]
    for family in ("iptables", "ip6tables"):
        if shutil.which(family):
            for table, lines in _chains(family).items():
                left += [f"{family} {table}: {ln}" for ln in lines if any(p in ln for p in CHAIN_PREFIXES)]
    left += [f"pid {p}" for p in _processes_mentioning(NODE_DIR_PREFIX)]
    left += [str(p) for p in Path(tempfile.gettempdir()).glob(f"{NODE_DIR_PREFIX}*")]
    if HOST_RECORD.exists():
        left.append(str(HOST_RECORD))
    return left


# ---- the cluster -------------------------------------------------------------


def _render(name: str, values: dict[str, str]) -> str:
    return string.Template((NODE_FILES / name).read_text()).substitute(values)


class RealNodeCluster(LocalCluster):
    """The launcher's control plane (no KWOK) plus one real node, `ocr-node`, on this machine.

    `images`: names from tests/cluster/images.py imported into containerd (built if missing).
    Attributes as LocalCluster, plus `node_dir` and `timings` with the node's phases.
    """

    def __init__(
        self,
        images: Sequence[str] = ("server", "operator"),
        startup_timeout: float = 180.0,
        keep_workdir: bool = False,
    ) -> None:
        super().__init__(nodes=0, startup_timeout=startup_timeout, keep_workdir=keep_workdir)
        self.api_host = NODE_IP
        self.images = ("pause", *images)
        self.node_dir: Path | None = None
        self._record: dict[str, Any] | None = None
        self._lock_fd: IO[str] | None = None
        self._node_procs: list[ManagedProcess] = []
        self._imports: concurrent.futures.Future[None] | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._node_lock = threading.Lock()

    # ---- lifecycle -----------------------------------------------------------

    def start(self, attempts: int = 3) -> RealNodeCluster:
        missing = missing_node_requirements(self.bin_dir)
        if missing:
            raise ClusterError("cannot start a real node, missing: " + "; ".join(missing))
        super().start(attempts)
        return self

    def _start_once(self) -> None:
        t0 = time.monotonic()
        self._take_host()
        self._phase("host", t0)
        super()._start_once()
        self.timings["total"] = round(time.monotonic() - t0, 2)
        log.info("real node up in %.1fs %s", self.timings["total"], self.timings)

    def stop(self) -> None:
        """Stop the node (pods, kubelet, containerd), the control plane, and undo every host change."""
        atexit.unregister(self.stop)
        with self._node_lock:
            if self._pool:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
            for proc in reversed(self._node_procs):  # host services, kube-proxy, kubelet, containerd
                if proc.name == "containerd":
                    _kill_cgroup_processes()  # the pods, while containerd can still reap their shims
                proc.stop()
                with contextlib.suppress(ValueError):
                    self._procs.remove(proc)
            self._node_procs.clear()
            super().stop()
            if self._record is not None:
                left = cleanup_host(self._record, self.bin_dir / "kube-proxy")
                if left:
                    log.warning("real node teardown left: %s", left)
                self._record = None
            self.node_dir = None
            if self._lock_fd:
                self._lock_fd.close()  # releases the flock
                self._lock_fd = None

    def _take_host(self) -> None:
        """Lock the machine for one real node, record what we change, make the network."""
        self._lock_fd = LOCK_FILE.open("w")
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._lock_fd.close()
                    self._lock_fd = None
                    raise ClusterError(
                        f"another real node still runs on this machine after {LOCK_WAIT_S:.0f} s (lock {LOCK_FILE})"
                    ) from None
                log.info("another real node runs on this machine (lock %s): waiting", LOCK_FILE)
                time.sleep(5)
        sweep_stale_node(self.bin_dir / "kube-proxy")
        leftovers = [x for x in host_leftovers() if not x.startswith("pid ")]
        if leftovers:
            raise ClusterError(f"host not clean before a real node start: {leftovers}")
        self.node_dir = Path(tempfile.mkdtemp(prefix=NODE_DIR_PREFIX))
        self._record = {
            "owner": os.getpid(),
            "node_dir": str(self.node_dir),
            "sysctls": _read_sysctls(),
            "existing_paths": [p for p in STRAY_PATHS if os.path.lexists(p)],
        }
        HOST_RECORD.write_text(json.dumps(self._record, indent=2))  # before the first change
        for sub in ("run", "logs", "cni/net.d", "cni/ipam", "kubelet/root", "kubelet/pki", "pod-logs", "ms"):
            (self.node_dir / sub).mkdir(parents=True, exist_ok=True)
        _write_sysctl("net.ipv4.ip_forward", "1")
        _write_sysctl("net.bridge.bridge-nf-call-iptables", "1")
        _sh("ip", "link", "add", VETH, "type", "veth", "peer", "name", VETH_PEER)
        _sh("ip", "addr", "add", f"{NODE_IP}/24", "dev", VETH)
        _sh("ip", "link", "set", VETH_PEER, "up")
        _sh("ip", "link", "set", VETH, "up")
        # ClusterIPs are routed over our veth (kube-proxy DNATs them first): never to the default gateway.
        _sh("ip", "route", "add", SERVICE_CIDR, "dev", VETH, "src", NODE_IP)
        values = self._values()
        for name, target in (
            ("containerd.toml", "containerd.toml"),
            ("cni.conflist", "cni/net.d/10-ocr-node.conflist"),
            ("kubelet.yaml", "kubelet.yaml"),
            ("kube-proxy.yaml", "kube-proxy.yaml"),
            ("Corefile", "Corefile"),
            ("host-services.yaml", "host-services.yaml"),
        ):
            (self.node_dir / target).write_text(_render(name, values))
        (self.node_dir / "resolv.conf").write_text("# pods use the cluster DNS (clusterDNS); no upstream\n")
        # containerd and the image imports run while the control plane starts.
        self._start_containerd()
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="images")
        self._imports = self._pool.submit(self._import_images)

    def _values(self) -> dict[str, str]:
        assert self.node_dir
        return {
            "NODE_DIR": str(self.node_dir),
            "NODE_NAME": NODE_NAME,
            "NODE_IP": NODE_IP,
            "NODE_CIDR": NODE_CIDR,
            "POD_CIDR": POD_CIDR,
            "POD_GATEWAY": POD_GATEWAY,
            "BRIDGE": BRIDGE,
            "DNS_IP": DNS_IP,
            "PAUSE_IMAGE": image_cache.PAUSE_IMAGE,
            "RUNC": shutil.which("runc") or "runc",
            "CNI_BIN_DIR": str(CNI_BIN_DIR),
        }

    def _node_spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        assert self.node_dir
        proc = ManagedProcess(name, argv, self.node_dir / "logs" / f"{name}.log")
        proc.start()
        self._node_procs.append(proc)
        self._procs.append(proc)  # the launcher's waits fail fast when it dies
        return proc

    @property
    def containerd_socket(self) -> Path:
        assert self.node_dir
        return self.node_dir / "run" / "containerd.sock"

    def ctr(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """`ctr -n k8s.io ARGS` against this node's containerd."""
        return _sh("ctr", "-a", str(self.containerd_socket), "-n", "k8s.io", *args, timeout=timeout)

    def _start_containerd(self) -> None:
        assert self.node_dir
        proc = self._node_spawn("containerd", ["containerd", "--config", str(self.node_dir / "containerd.toml")])

        def up() -> bool:
            if proc.exited() is not None:
                raise ClusterError(f"containerd exited with {proc.exited()}:\n{proc.log_tail()}")
            return _sh("ctr", "-a", str(self.containerd_socket), "version", check=False, timeout=10).returncode == 0

        try:
            wait_until(up, 30, 0.2, "containerd")
        except TimeoutError as err:
            raise ClusterError(f"{err}\n{proc.log_tail()}") from None

    def _import_images(self) -> None:
        t0 = time.monotonic()
        for name in self.images:
            tar = image_cache.ensure_image(name)
            self.ctr("images", "import", str(tar))
        self.timings["images"] = round(time.monotonic() - t0, 2)

    # ---- the launcher's hooks -----------------------------------------------

    def _make_pki(self) -> dict[str, Any]:
        pki = super()._make_pki()
        ca = pki["pki"]
        pki["serving"] = ca.serving(KUBERNETES_SERVICE_IP, extra_ips=(NODE_IP,))
        # Node-side identities; system:masters keeps this test node free of RBAC set-up.
        pki["kubelet"] = ca.client("kubelet", f"system:node:{NODE_NAME}", "system:masters")
        for name in ("kube-proxy", "coredns", "metrics-server"):
            pki[name] = ca.client(name, name, "system:masters")
        self._node_pki = pki
        return pki

    def _apiserver_extra_args(self) -> list[str]:
        return [
            # The `kubernetes` Service's endpoint is the node IP: pods (the operator) reach the API.
            "--endpoint-reconciler-type=lease",
            # logs/exec/metrics dial the kubelet by IP: no DNS name for the node needed.
            "--kubelet-preferred-address-types=InternalIP",
        ]

    def _kcm_extra_args(self) -> list[str]:
        # Scale down 15 s after the load ends instead of 5 min, so an HPA test can watch both ways.
        return ["--horizontal-pod-autoscaler-downscale-stabilization=15s"]

    def _start_rest(self, ports: dict[str, int], pki: dict[str, Any]) -> None:
        super()._start_rest(ports, pki)
        t0 = time.monotonic()
        assert self._imports is not None
        try:
            self._imports.result(timeout=3600)
        except image_cache.ImageBuildError as err:
            raise ClusterError(str(err)) from None
        self._phase("images-wait", t0)
        t1 = time.monotonic()
        self._start_node(pki)
        self._phase("node", t1)
        t2 = time.monotonic()
        self._start_host_services(pki)
        self._phase("dns+metrics", t2)

    def _kubeconfig_for(self, name: str, pki: dict[str, Any]) -> Path:
        assert self.node_dir and self.server
        path = self.node_dir / f"{name}.kubeconfig"
        write_kubeconfig(path, self.server, pki["pki"].ca.cert, pki[name], name)
        return path

    def _start_node(self, pki: dict[str, Any]) -> None:
        assert self.node_dir and self._api
        nd = self.node_dir
        self._node_spawn(
            "kubelet",
            [
                str(self.bin_dir / "kubelet"),
                f"--config={nd / 'kubelet.yaml'}",
                f"--kubeconfig={self._kubeconfig_for('kubelet', pki)}",
                f"--root-dir={nd / 'kubelet/root'}",
                f"--cert-dir={nd / 'kubelet/pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                "--v=1",
            ],
        )
        self._kubeconfig_for("kube-proxy", pki)
        self._node_spawn(
            "kube-proxy", [str(self.bin_dir / "kube-proxy"), f"--config={nd / 'kube-proxy.yaml'}", "--v=1"]
        )
        api = self._api

        def node_ready() -> bool:
            status, body = api.request("GET", f"/api/v1/nodes/{NODE_NAME}")
            conditions = body.get("status", {}).get("conditions", []) if status == 200 else []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        self._wait(node_ready, f"node {NODE_NAME} Ready")

    def _start_host_services(self, pki: dict[str, Any]) -> None:
        """CoreDNS and metrics-server on the host, when built; the cluster reaches them by Service."""
        assert self.node_dir
        nd = self.node_dir
        self.kubectl("apply", "-f", str(nd / "host-services.yaml"))
        if os.access(self.bin_dir / "coredns", os.X_OK):
            self._kubeconfig_for("coredns", pki)
            self._node_spawn("coredns", [str(self.bin_dir / "coredns"), "-conf", str(nd / "Corefile")])
        if os.access(self.bin_dir / "metrics-server", os.X_OK):
            cfg = self._kubeconfig_for("metrics-server", pki)
            self._node_spawn(
                "metrics-server",
                [
                    str(self.bin_dir / "metrics-server"),
                    f"--kubeconfig={cfg}",
                    f"--authentication-kubeconfig={cfg}",
                    f"--authorization-kubeconfig={cfg}",
                    f"--bind-address={NODE_IP}",
                    "--secure-port=4443",
                    f"--cert-dir={nd / 'ms'}",
                    "--kubelet-insecure-tls",
                    "--kubelet-preferred-address-types=InternalIP",
                    "--kubelet-use-node-status-port",
                    "--metric-resolution=15s",  # must exceed the kubelet request timeout (10s)
                    "--v=1",
                ],
            )

    def wait_for_metrics(self, timeout: float = 90) -> None:
        """Until `kubectl top node` answers (metrics-server needs two scrapes)."""
        self._wait(lambda: self.kubectl("top", "node", check=False).returncode == 0, "metrics-server", timeout)

    def has_dns(self) -> bool:
        return any(p.name == "coredns" for p in self._node_procs)

    def has_metrics(self) -> bool:
        return any(p.name == "metrics-server" for p in self._node_procs)


# ---- CLI: make demo / demo-down ---------------------------------------------

FILES = background.StateFiles(image_cache.TOOLS_DIR / "real-node", "node")


def _up(timeout: float) -> int:
    if (pid := FILES.running_pid()) is not None:
        print(f"real node already running (pid {pid}); kubeconfig: {FILES.kubeconfig}")
        return 0
    missing = missing_node_requirements()
    if missing:
        print("cannot start a real node, missing:\n  " + "\n  ".join(missing), file=sys.stderr)
        return 2
    if not background.start(
        ["-m", "tests.cluster.node", "serve"], FILES, REPO_ROOT, timeout, poll=0.5, what="real node"
    ):
        _down()
        return 1
    return 0


def _down(timeout: float = 90) -> int:
    background.terminate(FILES, timeout, poll=0.5)
    FILES.kubeconfig.unlink(missing_ok=True)
    sweep_stale_node()  # also covers an owner that was killed
    _sweep_stale_workdirs()  # and its control plane's temp dir
    left = host_leftovers()
    print("real node stopped; host clean" if not left else f"real node stopped; LEFT: {left}")
    return 0 if not left else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster.node", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "serve", "cleanup"])
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for `up` (image builds!)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.command == "up":
        return _up(args.timeout)
    if args.command == "down":
        return _down()
    if args.command == "serve":
        return background.serve(RealNodeCluster(images=("server", "operator")), FILES)
    if args.command == "cleanup":
        sweep_stale_node()
        _sweep_stale_workdirs()
        left = host_leftovers()
        print("host clean" if not left else f"LEFT: {left}")
        return 0 if not left else 1
    pid = FILES.running_pid()
    print(f"running (pid {pid}), kubeconfig {FILES.kubeconfig}" if pid else "not running")
    return 0 if pid else 1


if __name__ == "__main__":
    sys.exit(main())
