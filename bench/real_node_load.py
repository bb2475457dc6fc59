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


def _locust(url: str, users: int, duration: int, prefix: Path) -> dict[str, float]:
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(REPO / "bench" / "locustfile.py"), "--headless",
         "-u", str(users), "-r", str(max(1, users // 5)), "-t", f"{duration}s", "--host", url,
         "--csv", str(prefix), "--csv-full-history", "--only-summary", "--stop-timeout", "30"],
        check=False, capture_output=True, timeout=duration + 180,
    )  # fmt: skip
    with open(f"{prefix}_stats.csv") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    requests, failures = int(row["Request Count"]), int(row["Failure Count"])
    return {
        "requests": requests,
        "success_rate": round(100 * (requests - failures) / requests, 2) if requests else 0.0,
        "mean_ms": round(float(row["Average Response Time"]), 1),
        "p95_ms": float(row["95%"]),
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
            stats = _locust(url, users, args.duration, args.out / f"u{users}")
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
    (args.out / "load.json").write_text(json.dumps({"levels": rows, "samples": samples, "p95": p95_points}, indent=1))
    print("| users | requests | success % | mean ms | p95 ms | server CPU (m, mean) | replicas |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['users']} | {r['requests']} | {r['success_rate']} | {r['mean_ms']} | {r['p95_ms']:.0f} "
              f"| {r['cpu_m_mean']} | {r['replicas']} |")  # fmt: skip
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
