"""The cluster an operator benchmark runs against, written once for ``operator_scale.py`` and
``operator_chaos.py``: a throw-away local control plane (``tests/cluster``) unless ``--kubeconfig``
names another, with the OcrService CRD applied and established and the benchmark's namespace created."""

from __future__ import annotations

import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass

from kubernetes import client, config

from ocr_operator.crd import CRD_NAME, CRD_PATH
from tests.cluster.launcher import REPO_ROOT, LocalCluster


@dataclass(frozen=True)
class KubeTarget:
    cluster: LocalCluster | None  # None: the user's cluster from --kubeconfig
    kubeconfig: str
    api: client.ApiClient

    def kubectl(self, *args: str) -> str:
        """``kubectl ARGS`` against the target (the local cluster's pinned kubectl, else the one on PATH)."""
        kubectl_bin = str(self.cluster.bin_dir / "kubectl") if self.cluster else "kubectl"
        cmd = [kubectl_bin, f"--kubeconfig={self.kubeconfig}", *args]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def open_target(stack: ExitStack, kubeconfig: str, nodes: int, namespace: str) -> KubeTarget:
    """The target for ``kubeconfig`` (empty: a local cluster with ``nodes`` KWOK nodes), its CRD
    installed and ``namespace`` created; ``stack`` deletes the namespace and stops the cluster."""
    cluster = None
    if not kubeconfig:
        cluster = stack.enter_context(LocalCluster(nodes=nodes))
        kubeconfig = str(cluster.kubeconfig)
    api = config.new_client_from_config(config_file=kubeconfig)
    stack.callback(api.close)
    target = KubeTarget(cluster, kubeconfig, api)
    target.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO_ROOT / CRD_PATH))
    target.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": namespace}})
    stack.callback(lambda: core.delete_namespace(namespace))
    time.sleep(1)  # the namespace's default ServiceAccount (pods need it)
    return target
