"""Load table on a real node: Locust through an OcrService's ClusterIP with the HPA on.

Starts the real-node cluster (tests/cluster/node.py; root, `make node-build`, images cached by
tests/cluster/images.py), installs the chart, applies one OcrService with autoscaling (min 2), and
for each user count runs `bench/locustfile.py` headless against the Service while sampling the HPA's
replicas and the pods' CPU (metrics-server) every few seconds. Prints a Markdown table and writes
JSON + a PNG of replicas and p95 latency against time. Everything is stopped and the host cleaned
at the end. Bounded: each level runs --duration seconds.

    python bench/real_node_load.py --users 10,20,50,100 --duration 60 --out bench/real-node-load
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.cluster.images import OPERATOR_IMAGE, SERVER_IMAGE  # noqa: E402
from tests.cluster.node import RealNodeCluster  # noqa: E402

NS = "bench"
NAME = "loadtest"


def _json(cluster: RealNodeCluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(2)
    raise TimeoutError(what)


def _install(cluster: RealNodeCluster, max_replicas: int) -> str:
    cluster.kubectl("create", "namespace", NS)
    cluster.kubectl("label", "namespace", NS, "pod-security.kubernetes.io/enforce=restricted")
    repo, tag = OPERATOR_IMAGE.rsplit(":", 1)
    cluster.helm(
        "install", "ocr", str(REPO / "charts" / "ocr-crnn"), "-n", NS, "--wait", "--timeout=5m",
        "--set", f"operator.image.repository={repo}", "--set", f"operator.image.tag={tag}",
        "--set", "operator.image.pullPolicy=Never",
    )  # fmt: skip
    srepo, stag = SERVER_IMAGE.rsplit(":", 1)
    spec = {
        "image": {"repository": srepo, "tag": stag, "pullPolicy": "Never"},
        "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": max_replicas,
                        "targetCPUUtilizationPercentage": 70},
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    }  # fmt: skip
    body = {"apiVersion": "ocr-crnn.io/v1alpha1", "kind": "OcrService", "metadata": {"name": NAME}, "spec": spec}
    cluster.kubectl("apply", "-n", NS, "-f", "-", input=json.dumps(body))

    def ready() -> bool:
        conds = _json(cluster, "ocrservice", NAME, "-n", NS).get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

    _wait(ready, 600, "OcrService Ready")
    cluster.wait_for_metrics()
    svc = _json(cluster, "service", NAME, "-n", NS)
    return f"http://{svc['spec']['clusterIP']}:{svc['spec']['ports'][0]['port']}"


class Sampler(threading.Thread):
    """Every `interval` s: HPA current/desired replicas and the server pods' summed CPU (millicores)."""

    def __init__(self, cluster: RealNodeCluster, t0: float, interval: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.cluster, self.t0, self.interval = cluster, t0, interval
        self.samples: list[dict[str, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                hpa = _json(self.cluster, "hpa", NAME, "-n", NS).get("status", {})
                top = self.cluster.kubectl(
                    "top", "pods", "-n", NS, "-l", f"app.kubernetes.io/instance={NAME}", "--no-headers", check=False
                ).stdout.split("\n")
                cpu = sum(int(line.split()[1].rstrip("m")) for line in top if line.strip() and "m" in line.split()[1])
                self.samples.append(
                    {
                        "t": round(time.monotonic() - self.t0, 1),
                        "replicas": hpa.get("currentReplicas", 0),
                        "desired": hpa.get("desiredReplicas", 0),
                        "cpu_m": cpu,
                    }
                )
            except (subprocess.SubprocessError, ValueError, IndexError, KeyError):
                continue


def _failures(prefix: Path) -> dict[str, int]:
    """Locust's failures by error text ("HTTP 0" hides whether a connection was refused, reset or timed out)."""
    out: dict[str, int] = {}
    with open(f"{prefix}_failures.csv") as fh:
        for r in csv.DictReader(fh):
            out[r["Error"][:160]] = out.get(r["Error"][:160], 0) + int(r["Occurrences"])
    return out


def _restarts(cluster: RealNodeCluster) -> dict[str, str]:
    """Container restarts per server pod and why the last one ended (OOMKilled, a failed liveness probe)."""
    pods = _json(cluster, "pods", "-n", NS, "-l", f"app.kubernetes.io/instance={NAME}")["items"]
    out = {}
    for pod in pods:
        for c in pod["status"].get("containerStatuses", []):
            last = c.get("lastState", {}).get("terminated", {})
            out[pod["metadata"]["name"]] = f"{c.get('restartCount', 0)} restarts, last: {last.get('reason', '-')}"
    return out


# TCP counters that tell a refused, reset or dropped connection apart (per network namespace).
TCP_COUNTERS = ("ListenOverflows", "ListenDrops", "TCPAbortOnData", "TCPAbortOnClose", "TCPAbortOnTimeout",
                "TCPBacklogDrop", "TCPRcvQDrop", "AttemptFails", "EstabResets", "OutRsts", "RetransSegs")  # fmt: skip


def _tcp_counters(pid: str) -> dict[str, int]:
    """TcpExt + Tcp counters of the network namespace process `pid` lives in (/proc/PID/net/...)."""
    out: dict[str, int] = {}
    for name in ("netstat", "snmp"):
        try:
            lines = Path(f"/proc/{pid}/net/{name}").read_text().splitlines()
        except OSError:
            continue
        for head, values in zip(lines[::2], lines[1::2], strict=False):
            keys, vals = head.split()[1:], values.split()[1:]
            out.update({k: int(v) for k, v in zip(keys, vals, strict=False) if k in TCP_COUNTERS})
    return out


def _server_netns() -> dict[str, dict[str, int]]:
    """Counters of the host ("host") and of each server pod's namespace (keyed by a gunicorn PID)."""
    found = subprocess.run(["pgrep", "-f", "gunicorn ocr_server.wsgi:app"], capture_output=True, text=True).stdout
    seen, out = set(), {"host": _tcp_counters("self")}
    for pid in found.split():
        try:
            ns = os.readlink(f"/proc/{pid}/ns/net")
        except OSError:
            continue
        if ns not in seen:
            seen.add(ns)
            out[f"pod-netns-{pid}"] = _tcp_counters(pid)
    return out


def _delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out = {}
    for key, counters in after.items():
        base = before.get(key, {})
        moved = {k: v - base.get(k, 0) for k, v in counters.items() if v - base.get(k, 0)}
        if moved and key in before:
            out[key] = moved
    return out


def _locust(url: str, users: int, duration: int, prefix: Path) -> dict[str, Any]:
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(REPO / "bench" / "locustfile.py"), "--headless",
         "-u", str(users), "-r", str(max(1, users // 5)), "-t", f"{duration}s", "--host", url,
         "--csv", str(prefix), "--csv-full-history", "--only-summary", "--stop-timeout", "30"],
        check=False, capture_output=True, timeout=duration + 180,
    )  # fmt: skip
    with open(f"{prefix}_stats.csv") as fh:
        rows = {r["Name"]: r for r in csv.DictReader(fh)}
    row = rows["Aggregated"]
    requests, failures = int(row["Request Count"]), int(row["Failure Count"])
    shed = rows.get("/api/v1/ocr [shed]", {})
    served = rows.get("/api/v1/ocr", {})
    return {
        "requests": requests,
        # 429/503 with Retry-After count as successes (the locustfile's rule): deliberate, quick sheds
        "success_rate": round(100 * (requests - failures) / requests, 2) if requests else 0.0,
        "mean_ms": round(float(row["Average Response Time"]), 1),
        "p95_ms": float(row["95%"]),
        "shed": int(shed.get("Request Count", 0)),
        "shed_mean_ms": round(float(shed.get("Average Response Time", 0) or 0), 1),
        "ocr_ok": int(served.get("Request Count", 0)) - int(served.get("Failure Count", 0)),
        "ocr_p95_ms": float(served.get("95%", 0) or 0) if served.get("95%") not in (None, "N/A") else 0.0,
        "failures": _failures(prefix),
    }


def _p95_history(prefix: Path, t_start: float, t0: float) -> list[tuple[float, float]]:
    out = []
    with open(f"{prefix}_stats_history.csv") as fh:
        for r in csv.DictReader(fh):
            if r["Name"] == "Aggregated" and r["95%"] not in ("N/A", "0"):
                out.append((float(r["Timestamp"]) - t_start + t0, float(r["95%"])))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="10,20,50,100")
    parser.add_argument("--duration", type=int, default=60, help="seconds per level")
    parser.add_argument("--max-replicas", type=int, default=4)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "real-node-load")
    args = parser.parse_args()
    # SIGTERM (a timeout, `kill`) unwinds like Ctrl-C, so the node is stopped and the host cleaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.out.mkdir(parents=True, exist_ok=True)
    levels = [int(u) for u in args.users.split(",")]
    rows, p95_points = [], []
    with RealNodeCluster() as cluster:
        url = _install(cluster, args.max_replicas)
        t0 = time.monotonic()
        sampler = Sampler(cluster, t0)
        sampler.start()
        for users in levels:
            start_wall, start_rel = time.time(), time.monotonic() - t0
            before = len(sampler.samples)
            tcp_before = _server_netns()
            stats = _locust(url, users, args.duration, args.out / f"u{users}")
            stats["tcp"] = _delta(tcp_before, _server_netns())
            seen = sampler.samples[before:] or sampler.samples[-1:]
            rows.append(
                {"users": users, **stats,
                 "cpu_m_mean": round(sum(s["cpu_m"] for s in seen) / max(1, len(seen))),
                 "replicas": f"{min(s['replicas'] for s in seen)}-{max(s['replicas'] for s in seen)}" if seen else "?"}
            )  # fmt: skip
            p95_points += _p95_history(args.out / f"u{users}", start_wall, start_rel)
            print(rows[-1], flush=True)
        sampler.stop.set()
        samples = sampler.samples
        restarts = _restarts(cluster)
        # What the cluster saw (probe failures, kills), for a run that went wrong.
        events = cluster.kubectl("get", "events", "-n", NS, "--sort-by=.lastTimestamp", check=False).stdout
        (args.out / "events.txt").write_text(events)
    result = {"levels": rows, "samples": samples, "p95": p95_points, "restarts": restarts}
    (args.out / "load.json").write_text(json.dumps(result, indent=1))
    print(f"server container restarts: {restarts}")
    print(
        "| users | requests | success % | OCR 200 | shed 429 (mean ms) | failed | mean ms | p95 ms (OCR 200) "
        "| server CPU (m, mean) | replicas |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['users']} | {r['requests']} | {r['success_rate']} | {r['ocr_ok']} "
              f"| {r['shed']} ({r['shed_mean_ms']:.0f}) "
              f"| {sum(r['failures'].values())} | {r['mean_ms']:.0f} | {r['p95_ms']:.0f} ({r['ocr_p95_ms']:.0f}) "
              f"| {r['cpu_m_mean']} | {r['replicas']} |")  # fmt: skip
        for error, count in r["failures"].items():
            print(f"    {count} x {error}")
        for netns, moved in r["tcp"].items():
            print(f"    TCP {netns}: {moved}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.step([s["t"] for s in samples], [s["replicas"] for s in samples], where="post", label="replicas")
    ax.set_xlabel("seconds")
    ax.set_ylabel("replicas")
    ax2 = ax.twinx()
    ax2.plot([t for t, _ in p95_points], [p for _, p in p95_points], color="tab:red", label="p95 ms")
    ax2.set_ylabel("p95 latency (ms)")
    fig.legend(loc="upper left")
    ax.set_title(f"Real node, HPA min 2 max {args.max_replicas}: users {args.users}, {args.duration}s each")
    fig.tight_layout()
    fig.savefig(args.out / "load.png", dpi=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
