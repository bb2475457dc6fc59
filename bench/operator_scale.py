#!/usr/bin/env python3
"""Operator scale test: apply N OcrServices at once and time until all are served.

    python bench/operator_scale.py                # starts a throw-away local cluster (tests/cluster)
    python bench/operator_scale.py --count 100 --replicas 1 --kubeconfig .tools/cluster/kubeconfig

Reports:
- seconds from the first create until every OcrService has its ConfigMap, Service and Deployment
  and ``Ready=True`` for its generation (KWOK makes the pods ready; no containers run);
- the operator process's peak RSS (VmHWM);
- API requests the operator's client made (exact, from its liveness endpoint) per reconcile and per
  OcrService, and the API server's own request count over the run (all clients: controllers, KWOK,
  kopf's watches and patches, this script) for scale.

``--baseline`` applies the same ConfigMaps, Services and Deployments directly (no CRD, no operator)
and times until all Deployments are available: the cluster's own floor (scheduler, controllers,
KWOK) on this machine, to read the operator's share of the figure against.

Targets from the issue: <= 30 s for 100 OcrServices on this machine, RSS <= 150 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "operator")]

from kubernetes import client  # noqa: E402

from bench.kube_target import KubeTarget, open_target  # noqa: E402
from ocr_operator.apply import KubeApi  # noqa: E402
from ocr_operator.builders import CONFIGMAP, DEPLOYMENT, SERVICE, Owner, build_children  # noqa: E402
from ocr_operator.spec import GROUP, PLURAL, VERSION, parse_spec  # noqa: E402
from tests.ocr_operator.operator_proc import OperatorProcess  # noqa: E402

NAMESPACE = "bench-ocrs"
_REQUESTS_RE = re.compile(r"^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$", re.MULTILINE)
_LABEL_RE = re.compile(r'(\w+)="([^"]*)"')


def apiserver_requests(target: KubeTarget) -> Counter[str]:
    """apiserver_request_total summed per "VERB resource[/subresource]" (all clients)."""
    metrics = target.kubectl("get", "--raw", "/metrics")
    counts: Counter[str] = Counter()
    for labels, value in _REQUESTS_RE.findall(metrics):
        lab = dict(_LABEL_RE.findall(labels))
        resource = lab.get("resource", "") + (f"/{lab['subresource']}" if lab.get("subresource") else "")
        counts[f"{lab.get('verb', '?')} {resource}"] += int(float(value))
    return counts


def ready_count(custom: client.CustomObjectsApi) -> tuple[int, int]:
    items = custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)["items"]
    ready = 0
    for obj in items:
        status = obj.get("status") or {}
        cond = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), {})
        if cond.get("status") == "True" and status.get("observedGeneration") == obj["metadata"]["generation"]:
            ready += 1
    return ready, len(items)


def children_count(api: client.ApiClient) -> int:
    """OcrServices that have all three always-on children."""
    selector = "app.kubernetes.io/managed-by=ocr-operator"
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)

    def names(resp: Any) -> set[str]:
        return {i["metadata"]["labels"]["app.kubernetes.io/instance"] for i in json.loads(resp.data)["items"]}

    cms = names(core.list_namespaced_config_map(NAMESPACE, label_selector=selector, _preload_content=False))
    svcs = names(core.list_namespaced_service(NAMESPACE, label_selector=selector, _preload_content=False))
    deps = names(apps.list_namespaced_deployment(NAMESPACE, label_selector=selector, _preload_content=False))
    return len(cms & svcs & deps)


def available_count(api: client.ApiClient) -> int:
    resp = client.AppsV1Api(api).list_namespaced_deployment(NAMESPACE, _preload_content=False)
    items = json.loads(resp.data)["items"]
    return sum(
        1
        for d in items
        if (d.get("status") or {}).get("observedGeneration", 0) >= d["metadata"]["generation"]
        and (d.get("status") or {}).get("availableReplicas", 0) >= d["spec"]["replicas"]
        and (d.get("status") or {}).get("updatedReplicas", 0) >= d["spec"]["replicas"]
    )


def run_baseline(args: argparse.Namespace, api: client.ApiClient) -> dict[str, Any]:
    """The same children without the operator: the floor set by the cluster itself."""
    kube = KubeApi(api)
    spec = parse_spec({"replicas": args.replicas})

    def apply(i: int) -> None:
        children = build_children(Owner(NAMESPACE, f"ocr-{i:03d}", "none"), spec)
        for kind, manifest in (
            (CONFIGMAP, children.configmap),
            (SERVICE, children.service),
            (DEPLOYMENT, children.deployment),
        ):
            manifest["metadata"].pop("ownerReferences")  # no owner: the garbage collector would delete them
            kube.apply(kind, manifest)

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(apply, range(args.count)))
    created_s = time.monotonic() - t0
    done = 0
    while time.monotonic() - t0 < args.timeout and done < args.count:
        done = available_count(api)
        time.sleep(0.5)
    return {
        "count": args.count,
        "replicas": args.replicas,
        "baseline": True,
        "all_ready": done == args.count,
        "ready": done,
        "create_seconds": round(created_s, 2),
        "seconds_to_all_ready": round(time.monotonic() - t0, 2),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        target = open_target(stack, args.kubeconfig, args.nodes, NAMESPACE)
        api = target.api
        custom = client.CustomObjectsApi(api)

        if args.baseline:
            return run_baseline(args, api)

        log_path = Path(tempfile.mkdtemp(prefix="operator-bench-")) / "operator.log"
        operator = OperatorProcess(target.kubeconfig, log_path, namespaces=NAMESPACE)
        if os.environ.get("BENCH_OPERATOR_COMMAND"):  # e.g. a profiling wrapper
            operator.command = os.environ["BENCH_OPERATOR_COMMAND"].split()
        stack.enter_context(operator)
        before = operator.health()["reconciler"]
        idle_rss = operator.peak_rss_mb()
        server_before = apiserver_requests(target)

        def create(i: int) -> None:
            body = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "OcrService",
                "metadata": {"name": f"ocr-{i:03d}"},
                "spec": {"replicas": args.replicas},
            }
            custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)

        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(create, range(args.count)))
        created_s = time.monotonic() - t0
        ready = with_children = 0
        while time.monotonic() - t0 < args.timeout:
            ready, _ = ready_count(custom)
            if ready == args.count:
                with_children = children_count(api)
                if with_children == args.count:
                    break
            time.sleep(0.5)
        elapsed = time.monotonic() - t0
        after = operator.health()["reconciler"]
        server_after = apiserver_requests(target)
        reconciles = after["reconciles"] - before["reconciles"]
        requests = after["apiRequests"] - before["apiRequests"]
        return {
            "count": args.count,
            "replicas": args.replicas,
            "all_ready": ready == args.count and with_children == args.count,
            "ready": ready,
            "create_seconds": round(created_s, 2),
            "seconds_to_all_ready": round(elapsed, 2),
            "operator_peak_rss_mb": round(operator.peak_rss_mb(), 1),
            "operator_idle_rss_mb": round(idle_rss, 1),
            "reconciles": reconciles,
            "operator_api_requests": requests,
            "requests_per_reconcile": round(requests / max(reconciles, 1), 2),
            "requests_per_ocrservice": round(requests / args.count, 2),
            "apiserver_requests_all_clients": sum((server_after - server_before).values()),
            "apiserver_top_requests": dict((server_after - server_before).most_common(8)),
            "drift_corrections": operator.log().count("DriftCorrected") + operator.log().count("restored it"),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100, help="OcrServices to create at once")
    parser.add_argument("--replicas", type=int, default=1, help="replicas per OcrService")
    parser.add_argument("--nodes", type=int, default=4, help="KWOK nodes when starting a local cluster")
    parser.add_argument("--timeout", type=float, default=300, help="give up after this many seconds")
    parser.add_argument("--kubeconfig", default="", help="use this cluster instead of starting one")
    parser.add_argument("--baseline", action="store_true", help="apply the children directly, no operator")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result))
    elif args.baseline:
        print(f"baseline, no operator:       {result['count']} Deployments x {result['replicas']} replica(s)")
        print(
            f"seconds until all available: {result['seconds_to_all_ready']} (applies took {result['create_seconds']} s)"
        )
    else:
        print(f"OcrServices:                 {result['count']} x {result['replicas']} replica(s)")
        print(f"all Ready with children:     {result['all_ready']} ({result['ready']}/{result['count']} Ready)")
        print(
            f"seconds until all Ready:     {result['seconds_to_all_ready']} (creates took {result['create_seconds']} s)"
        )
        print(
            f"operator peak RSS:           {result['operator_peak_rss_mb']} MiB "
            f"(idle after start-up: {result['operator_idle_rss_mb']} MiB)"
        )
        print(f"reconciles (full):           {result['reconciles']}")
        print(
            f"operator API requests:       {result['operator_api_requests']} "
            f"({result['requests_per_reconcile']}/reconcile, {result['requests_per_ocrservice']}/OcrService)"
        )
        print(f"API server requests (all):   {result['apiserver_requests_all_clients']}, most frequent:")
        for what, n in result["apiserver_top_requests"].items():
            print(f"    {n:6d}  {what}")
        print(f"drift corrections:           {result['drift_corrections']}")
    return 0 if result["all_ready"] else 1


if __name__ == "__main__":
    sys.exit(main())
