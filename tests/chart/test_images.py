"""Build the two images with buildah (docker/build-local.sh) and run them: opt-in, because it takes
minutes, downloads the wheels and needs root, buildah and debootstrap (`apt-get install buildah
debootstrap`). Run with `OCR_IMAGE_TESTS=1 pytest tests/chart/test_images.py` (make image-test);
OCR_IMAGE_REUSE=1 skips the build when both images are already in buildah's storage.

- the operator image, as UID 10001, reconciles an OcrService in the test cluster to Ready and answers
  on its liveness endpoint;
- the server image, as UID 10001, carries ONNX Runtime and OpenCV but no torch, and gunicorn starts
  (with the weights in models/ it serves /health; without them it refuses to start, saying so).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.chart.chart_tools import REPO_ROOT
from tests.cluster.launcher import LocalCluster

VERSION = "0.1.0"
SERVER_IMAGE = f"ghcr.io/ocr-crnn/ocr-server:{VERSION}"
OPERATOR_IMAGE = f"ghcr.io/ocr-crnn/ocr-operator:{VERSION}"
BUILDAH = ["buildah", "--storage-driver", "vfs"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("OCR_IMAGE_TESTS") != "1", reason="opt-in: set OCR_IMAGE_TESTS=1"),
    pytest.mark.skipif(not (shutil.which("buildah") and shutil.which("debootstrap")), reason="needs buildah"),
]


def image_exists(image: str) -> bool:
    return subprocess.run([*BUILDAH, "inspect", "--type", "image", image], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def images() -> None:
    """Build both images (OCR_IMAGE_REUSE=1: keep images already in buildah's storage)."""
    if os.environ.get("OCR_IMAGE_REUSE") == "1" and all(map(image_exists, (SERVER_IMAGE, OPERATOR_IMAGE))):
        return
    result = subprocess.run(
        [str(REPO_ROOT / "docker" / "build-local.sh")], capture_output=True, text=True, timeout=1800
    )
    assert result.returncode == 0, result.stderr[-4000:]
    print(result.stderr)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def container(image: str, *args: str, env: dict[str, str], volumes: tuple[str, ...] = (), log: Path) -> Iterator[None]:
    """`buildah run` as UID 10001 with chroot isolation (the host's network: loopback is shared)."""
    ctr = subprocess.run([*BUILDAH, "from", image], capture_output=True, text=True, check=True).stdout.strip()
    argv = [*BUILDAH, "run", "--isolation", "chroot", "--user", "10001:10001", "--workingdir", "/app"]
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    for volume in volumes:
        argv += ["-v", volume]
    with log.open("w") as out:
        proc = subprocess.Popen([*argv, ctr, "--", *args], stdout=out, stderr=subprocess.STDOUT)
        try:
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            subprocess.run([*BUILDAH, "rm", ctr], capture_output=True)


def run_in(image: str, script: str) -> subprocess.CompletedProcess[str]:
    ctr = subprocess.run([*BUILDAH, "from", image], capture_output=True, text=True, check=True).stdout.strip()
    try:
        return subprocess.run(
            [*BUILDAH, "run", "--isolation", "chroot", "--user", "10001:10001", ctr, "--", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        subprocess.run([*BUILDAH, "rm", ctr], capture_output=True)


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as rsp:
            return rsp.status, rsp.read().decode()
    except OSError as err:
        return 0, str(err)


def test_operator_image_reconciles_an_ocrservice(
    images: None, k8s_cluster: LocalCluster, k8s_namespace: str, tmp_path: Path
) -> None:
    cluster, ns = k8s_cluster, k8s_namespace
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO_ROOT / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "crd/ocrservices.ocr-crnn.io", "--timeout=60s")
    body = {"apiVersion": "ocr-crnn.io/v1alpha1", "kind": "OcrService", "metadata": {"name": "img", "namespace": ns}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps({**body, "spec": {"replicas": 1}}))
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(str(cluster.kubeconfig), kubeconfig)
    kubeconfig.chmod(0o644)  # readable by UID 10001
    port = free_port()
    env = {
        "KUBECONFIG": "/kube/config",
        "WATCH_NAMESPACES": ns,
        "LIVENESS_ENDPOINT": f"http://127.0.0.1:{port}/healthz",
        "POD_IP": "10.0.0.7",
    }
    log = tmp_path / "operator.log"
    volumes = (f"{kubeconfig}:/kube/config:ro",)
    with container(OPERATOR_IMAGE, "python3", "-m", "ocr_operator", env=env, volumes=volumes, log=log):
        deadline = time.monotonic() + 180
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            out = cluster.kubectl("get", "ocrservice", "img", "-n", ns, "-o", "json").stdout
            status = json.loads(out).get("status") or {}
            conditions = status.get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                break
            time.sleep(2)
        else:
            raise AssertionError(f"not Ready: {status}\n{log.read_text()[-3000:]}")
        code, text = http_get(f"http://127.0.0.1:{port}/healthz")
        assert code == 200, text


def test_server_image_is_cpu_only_and_non_root(images: None) -> None:
    result = run_in(
        SERVER_IMAGE,
        'id -u; python3 -c "import onnxruntime, cv2, ocr_server.app"; '
        'python3 -c "import torch" 2>/dev/null && echo HAS-TORCH; ls /app/models; true',
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "10001"
    assert "HAS-TORCH" not in result.stdout


def test_server_image_starts(images: None, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    has_model = any((REPO_ROOT / "models").glob("*-*/"))
    with container(SERVER_IMAGE, "gunicorn", "ocr_server.wsgi:app", env={"OCR__SERVER__PORT": str(port)}, log=log):
        deadline = time.monotonic() + 120
        code, text = 0, ""
        while time.monotonic() < deadline:
            code, text = http_get(f"http://127.0.0.1:{port}/health")
            if code == 200 or (not has_model and "refusing to start" in log.read_text()):
                break
            time.sleep(2)
    if has_model:
        assert code == 200, f"{text}\n{log.read_text()[-3000:]}"
    else:
        assert "refusing to start" in log.read_text(), log.read_text()[-3000:]
