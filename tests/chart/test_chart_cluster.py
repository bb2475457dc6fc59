"""The chart against the real API server of tests/cluster (KWOK plays the kubelets).

- every manifest rendered for every values file is accepted by a server-side dry run (schema, field
  validation, RBAC, admission; pod templates are also dry-run as Pods, so Pod Security "restricted"
  is enforced on them and not merely warned about);
- install → CRDs established, operator Deployment available; with the operator process running
  here against the cluster, the sample OcrService reaches Ready; `helm test` finds its hook Pod;
  upgrade with a changed value rolls the operator and resizes the sample; uninstall leaves only the
  CRDs;
- namespaced mode with peering installs Roles and KopfPeerings in the watched namespaces only.

Every install goes into a namespace labelled pod-security.kubernetes.io/enforce=restricted.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.chart.chart_tools import (
    CHART_DIR,
    REPO_ROOT,
    SCENARIOS,
    Manifest,
    one,
    parse_manifests,
    template_args,
)
from tests.cluster.fixtures import RESTRICTED_LABELS
from tests.cluster.launcher import LocalCluster

pytestmark = pytest.mark.k8s

CRD_NAMES = ("ocrservices.ocr-crnn.io", "clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev")


# ---- helpers ---------------------------------------------------------------------------------


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120.0, interval: float = 0.5) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


def get_json(cluster: LocalCluster, *args: str) -> Any:
    result = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def condition(obj: dict[str, Any] | None, kind: str) -> str | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return None


def create_namespace(cluster: LocalCluster, name: str) -> None:
    labels = ",".join(f'"{k}": "{v}"' for k, v in RESTRICTED_LABELS.items())
    manifest = f'{{"apiVersion": "v1", "kind": "Namespace", "metadata": {{"name": "{name}", "labels": {{{labels}}}}}}}'
    cluster.kubectl("create", "-f", "-", input=manifest)
    wait_for(f"ServiceAccount default in {name}", lambda: get_json(cluster, "serviceaccount", "default", "-n", name))


@contextmanager
def extra_namespaces(cluster: LocalCluster, count: int) -> Iterator[list[str]]:
    """`count` more restricted namespaces (for namespaced mode), deleted afterwards."""
    names = [f"t-chart-watch-{uuid.uuid4().hex[:6]}" for _ in range(count)]
    try:
        for name in names:
            create_namespace(cluster, name)
        yield names
    finally:
        for name in names:
            cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def install_crds(cluster: LocalCluster) -> None:
    """The chart's CRDs, as `helm install` would create them (dry runs of custom objects need them)."""
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "--field-manager=chart-tests", "-f", str(CHART_DIR / "crds")
    )
    wait_established(cluster)


def wait_established(cluster: LocalCluster) -> None:
    """Poll (`kubectl wait` errors out on a CRD whose status has no conditions yet)."""
    for name in CRD_NAMES:
        wait_for(
            f"CRD {name} Established", lambda n=name: condition(get_json(cluster, "crd", n), "Established") == "True"
        )


def pod_from_template(owner: Manifest) -> Manifest:
    """The Pod a workload would create, for a dry run that Pod Security admission enforces. It runs as
    the namespace's default ServiceAccount: the chart's own does not exist during a dry run."""
    template = owner["spec"]["template"]
    spec = {k: v for k, v in template["spec"].items() if k != "serviceAccountName"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{owner['metadata']['name']}-dry-run",
            "namespace": owner["metadata"]["namespace"],
            "labels": template["metadata"].get("labels", {}),
        },
        "spec": spec,
    }


def scenario_args(scenario: str, namespace: str, watched: list[str]) -> list[str]:
    """Values that point a scenario at this test's namespaces instead of its fixed ones."""
    if scenario == "namespaced":
        return ["--set", f"operator.watchNamespaces={{{','.join(watched)}}}", "--set", f"sample.namespace={watched[0]}"]
    return []


# ---- server-side dry run of everything the chart renders --------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rendered_manifests_pass_server_side_dry_run(
    k8s_cluster: LocalCluster, k8s_namespace: str, scenario: str
) -> None:
    install_crds(k8s_cluster)
    with extra_namespaces(k8s_cluster, 2 if scenario == "namespaced" else 0) as watched:
        release = f"dry-{uuid.uuid4().hex[:6]}"
        args = template_args(scenario, *scenario_args(scenario, k8s_namespace, watched), release=release)
        args[args.index("--namespace") + 1] = k8s_namespace
        # --is-upgrade=false, no cluster access: exactly what `helm install` would send (tests included).
        manifests = parse_manifests(k8s_cluster.helm(*args).stdout)
        assert manifests
        pods = [pod_from_template(m) for m in manifests if m["kind"] == "Deployment"]
        stream = "\n---\n".join(json.dumps(m) for m in [*manifests, *pods])
        result = k8s_cluster.kubectl(
            "apply",
            "--dry-run=server",
            "--server-side",
            "--field-manager=helm",
            "--validate=strict",
            "-f",
            "-",
            input=stream,
            check=False,
        )
        assert result.returncode == 0, f"{scenario}: the API server refused:\n{result.stderr}"
        assert "would violate PodSecurity" not in result.stderr, result.stderr
        accepted = [line for line in result.stdout.splitlines() if "(server dry run)" in line]
        assert len(accepted) == len(manifests) + len(pods), result.stdout


def test_restricted_namespace_rejects_a_root_operator_pod(k8s_cluster: LocalCluster, k8s_namespace: str) -> None:
    """The dry run above is a real check: the same Pod made to run as root is refused."""
    manifests = parse_manifests(k8s_cluster.helm(*template_args("default", release="neg")).stdout)
    pod = pod_from_template(one(manifests, "Deployment"))
    pod["metadata"]["namespace"] = k8s_namespace
    pod["spec"]["securityContext"]["runAsNonRoot"] = False
    pod["spec"]["containers"][0]["securityContext"].update(runAsNonRoot=False, runAsUser=0)
    result = k8s_cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert result.returncode != 0 and "violates PodSecurity" in result.stderr, result.stderr


# ---- install, operator, upgrade, uninstall ----------------------------------------------------


@contextmanager
def local_operator(cluster: LocalCluster, namespaces: list[str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The operator process on this machine, talking to the test cluster (KWOK runs no containers,
    so the in-cluster operator Deployment is only a stand-in)."""
    with socket.socket() as sock:  # a free loopback port for kopf's liveness endpoint
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "WATCH_NAMESPACES": ",".join(namespaces),
        "LIVENESS_ENDPOINT": f"http://127.0.0.1:{port}/healthz",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "operator")]),
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ocr_operator"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def assert_operator_alive(proc: subprocess.Popen[bytes], log_path: Path) -> None:
    assert proc.poll() is None, f"the operator exited ({proc.returncode}):\n{log_path.read_text()[-4000:]}"


def ocrservice_ready(cluster: LocalCluster, namespace: str, name: str) -> Callable[[], Any]:
    def check() -> Any:
        obj = get_json(cluster, "ocrservice", name, "-n", namespace)
        return obj if condition(obj, "Ready") == "True" else None

    return check


def released_objects(cluster: LocalCluster, namespace: str, release: str) -> list[str]:
    """Everything still labelled with the release, namespaced (in `namespace`) and cluster-wide."""
    selector = f"app.kubernetes.io/instance={release}"
    names = cluster.kubectl(
        "get",
        "deployments,replicasets,pods,serviceaccounts,roles,rolebindings,configmaps,ocrservices,kopfpeerings",
        "-n",
        namespace,
        "-l",
        selector,
        "-o",
        "name",
    ).stdout.split()
    names += cluster.kubectl(
        "get", "clusterroles,clusterrolebindings,clusterkopfpeerings", "-l", selector, "-o", "name"
    ).stdout.split()
    return names


def test_install_operator_upgrade_uninstall(k8s_cluster: LocalCluster, k8s_namespace: str, tmp_path: Path) -> None:
    cluster, ns = k8s_cluster, k8s_namespace
    release = f"ocr-{uuid.uuid4().hex[:5]}"
    fullname = f"{release}-ocr-crnn"
    sample = "ocr-demo"
    values = ["--set", "sample.enabled=true", "--set", "tests.timeoutSeconds=5"]

    # -- install: CRDs established, operator Deployment available (KWOK makes its pod ready).
    cluster.helm("install", release, str(CHART_DIR), "-n", ns, *values, "--wait", "--timeout", "3m")
    wait_established(cluster)
    cluster.kubectl("wait", "-n", ns, "--for=condition=Available", f"deployment/{fullname}", "--timeout=120s")
    deployment = get_json(cluster, "deployment", fullname, "-n", ns)
    assert deployment["status"]["availableReplicas"] == 1
    assert get_json(cluster, "clusterrole", f"{fullname}-operator")
    assert get_json(cluster, "ocrservice", sample, "-n", ns)

    log_path = tmp_path / "operator.log"
    with local_operator(cluster, [ns], log_path) as operator:
        # -- the operator makes the sample's children; KWOK makes its pods ready → Ready=True.
        try:
            ready = wait_for(f"OcrService {sample} Ready", ocrservice_ready(cluster, ns, sample), timeout=180)
        except AssertionError:
            assert_operator_alive(operator, log_path)
            raise AssertionError(f"not Ready; operator log:\n{log_path.read_text()[-4000:]}") from None
        assert ready["status"].get("readyReplicas") == 1
        service = get_json(cluster, "service", sample, "-n", ns)
        assert service["spec"]["ports"][0]["port"] == 80

        check_helm_test(cluster, ns, release, sample)

        # -- upgrade: a changed operator value rolls the operator Deployment (new ReplicaSet, old one
        # scaled to zero); a changed sample value resizes the sample's Deployment.
        old_rs = current_replicaset(cluster, ns, fullname)
        cluster.helm(
            "upgrade",
            release,
            str(CHART_DIR),
            "-n",
            ns,
            "--reuse-values",
            "--set",
            "operator.logLevel=debug",
            "--set",
            "sample.spec.replicas=2",
            "--wait",
            "--timeout",
            "3m",
        )
        cluster.kubectl("rollout", "status", "-n", ns, f"deployment/{fullname}", "--timeout=120s")
        new_rs = current_replicaset(cluster, ns, fullname)
        assert new_rs["metadata"]["name"] != old_rs["metadata"]["name"], "the pod template did not change"
        new_env = {e["name"]: e.get("value") for e in new_rs["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert new_env["LOG_LEVEL"] == "debug"
        wait_for(
            "the old operator ReplicaSet scaled to 0",
            lambda: (
                (get_json(cluster, "replicaset", old_rs["metadata"]["name"], "-n", ns) or {})
                .get("spec", {})
                .get("replicas")
                == 0
            ),
        )
        assert get_json(cluster, "ocrservice", sample, "-n", ns)["spec"]["replicas"] == 2
        wait_for(
            "the sample Deployment at 2 ready replicas",
            lambda: (
                (get_json(cluster, "deployment", sample, "-n", ns) or {}).get("status", {}).get("readyReplicas") == 2
            ),
            timeout=120,
        )
        wait_for(f"OcrService {sample} Ready after the upgrade", ocrservice_ready(cluster, ns, sample))
        assert_operator_alive(operator, log_path)

        # -- uninstall (while the operator still runs, so it can handle the sample's deletion).
        cluster.helm("uninstall", release, "-n", ns, "--wait", "--timeout", "3m")
        leftovers: list[str] = []

        def nothing_left() -> bool:
            leftovers[:] = released_objects(cluster, ns, release)
            return not leftovers

        try:
            wait_for("the release's objects gone", nothing_left, timeout=120)
        except AssertionError as err:
            raise AssertionError(f"{err}: still there: {leftovers}") from None
        wait_for(
            "the sample's children garbage-collected",
            lambda: (
                not cluster.kubectl(
                    "get",
                    "deployments,services,configmaps",
                    "-n",
                    ns,
                    "-l",
                    f"app.kubernetes.io/instance={sample}",
                    "-o",
                    "name",
                ).stdout.split()
            ),
            timeout=120,
        )
    # Only the CRDs stay (Helm never deletes crds/).
    for name in CRD_NAMES:
        assert get_json(cluster, "crd", name), f"CRD {name} should be kept"
    assert cluster.helm("list", "-n", ns, "-q").stdout.strip() == ""


def current_replicaset(cluster: LocalCluster, namespace: str, deployment: str) -> dict[str, Any]:
    """The ReplicaSet of the Deployment's current revision."""
    dep = get_json(cluster, "deployment", deployment, "-n", namespace)
    revision = dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    rs_list = get_json(cluster, "replicasets", "-n", namespace)["items"]
    for rs in rs_list:
        owners = [o["name"] for o in rs["metadata"].get("ownerReferences", [])]
        if deployment in owners and rs["metadata"]["annotations"].get("deployment.kubernetes.io/revision") == revision:
            return dict(rs)
    raise AssertionError(f"no ReplicaSet of revision {revision} for {deployment}")


def helm_env(cluster: LocalCluster) -> dict[str, str]:
    """The private helm dirs LocalCluster.helm uses (same release storage is in the cluster anyway)."""
    assert cluster.workdir
    home = cluster.workdir / "helm"
    return {f"HELM_{kind}_HOME": str(home / kind.lower()) for kind in ("CACHE", "CONFIG", "DATA")}


class _HealthHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if self.path == "/health" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, format: str, *args: Any) -> None:
        pass


def check_helm_test(cluster: LocalCluster, namespace: str, release: str, sample: str) -> None:
    """`helm test`: its hook Pod is created, admitted under "restricted" and scheduled. KWOK runs no
    containers and completes only Job pods, so the Pod's script is run here instead, against a local
    /health, and the Pod is then marked Succeeded the way a kubelet would, which `helm test` reports."""
    pod_name = f"{release}-ocr-crnn-test-health"
    proc = subprocess.Popen(
        [
            str(cluster.bin_dir / "helm"),
            "--kubeconfig",
            str(cluster.kubeconfig),
            "test",
            release,
            "-n",
            namespace,
            "--timeout",
            "90s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **helm_env(cluster)},
    )
    try:
        pod = wait_for(
            "the helm test Pod running",
            lambda: (
                (p := get_json(cluster, "pod", pod_name, "-n", namespace))
                and p.get("status", {}).get("phase") == "Running"
                and p
            ),
            timeout=60,
        )
        container = pod["spec"]["containers"][0]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["HEALTH_URL"] == f"http://{sample}.{namespace}.svc:80/health"
        script = container["args"][0]

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HealthHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/health"
            ok = subprocess.run(
                [sys.executable, "-c", script],
                env={"HEALTH_URL": url, "TIMEOUT_SECONDS": "5"},
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert ok.returncode == 0 and "200" in ok.stdout, ok.stderr
        finally:
            server.shutdown()
        bad = subprocess.run(
            [sys.executable, "-c", script],
            env={"HEALTH_URL": "http://127.0.0.1:9/health", "TIMEOUT_SECONDS": "1"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert bad.returncode != 0 and "failed" in bad.stderr

        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status = {
            "status": {
                "phase": "Succeeded",
                "containerStatuses": [
                    {
                        "name": container["name"],
                        "image": container["image"],
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "started": False,
                        "state": {
                            "terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}
                        },
                    }
                ],
            }
        }
        cluster.kubectl(
            "patch", "pod", pod_name, "-n", namespace, "--subresource=status", "--type=merge", "-p", json.dumps(status)
        )
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "Phase:" in out and "Succeeded" in out, out


# ---- namespaced mode with peering --------------------------------------------------------------


def test_namespaced_install_with_peering(k8s_cluster: LocalCluster, k8s_namespace: str) -> None:
    cluster, ns = k8s_cluster, k8s_namespace
    release = f"nsd-{uuid.uuid4().hex[:5]}"
    fullname = f"{release}-ocr-crnn"
    with extra_namespaces(cluster, 2) as watched:
        args = [
            "-f",
            str(REPO_ROOT / "tests" / "chart" / "values" / "namespaced.yaml"),
            *scenario_args("namespaced", ns, watched),
        ]
        cluster.helm("install", release, str(CHART_DIR), "-n", ns, *args, "--wait", "--timeout", "3m")
        try:
            deployment = get_json(cluster, "deployment", fullname, "-n", ns)
            assert deployment["status"].get("availableReplicas") == 2
            for watched_ns in watched:
                assert get_json(cluster, "role", f"{fullname}-operator", "-n", watched_ns)
                assert get_json(cluster, "rolebinding", f"{fullname}-operator", "-n", watched_ns)
                assert get_json(cluster, "kopfpeering", fullname, "-n", watched_ns)
            assert not get_json(cluster, "clusterrole", f"{fullname}-operator"), "no cluster-wide operator role"
            # The ServiceAccount may act on OcrServices in the watched namespaces only.
            sa = f"system:serviceaccount:{ns}:{fullname}"
            allowed = cluster.kubectl(
                "auth", "can-i", "patch", "ocrservices.ocr-crnn.io", "-n", watched[0], "--as", sa, check=False
            )
            assert allowed.stdout.strip() == "yes"
            denied = cluster.kubectl(
                "auth", "can-i", "patch", "ocrservices.ocr-crnn.io", "-n", ns, "--as", sa, check=False
            )
            assert denied.stdout.strip() == "no"
            secrets = cluster.kubectl("auth", "can-i", "get", "secrets", "-n", watched[0], "--as", sa, check=False)
            assert secrets.stdout.strip() == "no"
            assert get_json(cluster, "ocrservice", "invoices", "-n", watched[0])
        finally:
            cluster.helm("uninstall", release, "-n", ns, "--wait", "--timeout", "2m", check=False)
