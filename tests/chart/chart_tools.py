"""Helpers of the chart tests: find helm, render the chart, pick objects out of the rendered manifests.

Rendering needs only the helm binary (`make cluster-build` puts it in .tools/bin; $HELM overrides);
no cluster. The cluster tests use the same renderer with their cluster's helm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "ocr-crnn"
VALUES_DIR = Path(__file__).resolve().parent / "values"
# Every values file under tests/chart/values/, by stem: namespaced, ingress, autoscaling-off, ...
VALUES_FILES = {p.stem: p for p in sorted(VALUES_DIR.glob("*.yaml"))}
# "default" renders with the chart's own values.yaml only.
SCENARIOS = ["default", *VALUES_FILES]
# Offline renders (template, lint) pass this cluster version explicitly: the one tests/cluster pins. The
# .tools/bin/helm that tests/cluster/build.sh builds defaults to it too (its ldflags set helm's default
# kube version), but a $HELM or PATH helm defaults to whatever Kubernetes version it was released with.
KUBE_VERSION = next(
    line.split("=", 1)[1].strip()
    for line in (REPO_ROOT / "tests" / "cluster" / "versions.env").read_text().splitlines()
    if line.startswith("KUBERNETES_VERSION=")
)
BUILD_HINT = "run `make cluster-build` (tests/cluster/build.sh) to build .tools/bin/helm, or set $HELM"

Manifest = dict[str, Any]


def helm_binary() -> str:
    """Path of helm: $HELM, .tools/bin/helm, or helm on PATH. Skips the test when there is none
    (fails instead when $CI is set: CI builds the tools first, a missing helm there is a bug)."""
    candidates = [os.environ.get("HELM"), str(REPO_ROOT / ".tools" / "bin" / "helm"), shutil.which("helm")]
    for cand in candidates:
        if cand and os.access(cand, os.X_OK):
            return cand
    if os.environ.get("CI"):
        pytest.fail(f"helm not found: {BUILD_HINT}")
    pytest.skip(f"helm not found: {BUILD_HINT}")


def run_helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run helm with private cache/config dirs (never the user's repositories or plugins)."""
    home = REPO_ROOT / ".tools" / "helm-home"
    env = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    result = subprocess.run([helm_binary(), *args], capture_output=True, text=True, env=env, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def values_args(scenario: str) -> list[str]:
    """The `-f FILE` arguments of a scenario ("default" has none)."""
    return [] if scenario == "default" else ["-f", str(VALUES_FILES[scenario])]


def template_args(
    scenario: str = "default",
    *extra: str,
    release: str = "ocr",
    namespace: str = "ocr-system",
) -> list[str]:
    return [
        "template",
        release,
        str(CHART_DIR),
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
        *values_args(scenario),
        *extra,
    ]


def parse_manifests(text: str) -> list[Manifest]:
    """The non-empty YAML documents of a rendered stream."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render(
    scenario: str = "default",
    *extra: str,
    release: str = "ocr",
    namespace: str = "ocr-system",
    include_crds: bool = False,
) -> list[Manifest]:
    """`helm template` → the list of rendered objects (with --include-crds: the CRDs first)."""
    args = template_args(scenario, *extra, release=release, namespace=namespace)
    if include_crds:
        args.append("--include-crds")
    return parse_manifests(run_helm(*args).stdout)


def render_notes(scenario: str = "default", *extra: str, release: str = "ocr", namespace: str = "ocr-system") -> str:
    """NOTES.txt as `helm install` would print it. `helm template` leaves NOTES out and `helm install
    --dry-run` wants a cluster, so a copy of the chart gets one more template that holds the rendered
    NOTES.txt (every file under templates/ is a named template) in a ConfigMap."""
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / CHART_DIR.name
        shutil.copytree(CHART_DIR, chart)
        (chart / "templates" / "zz-notes.yaml").write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n"
            '  notes: {{ include "ocr-crnn/templates/NOTES.txt" . | quote }}\n'
        )
        args = template_args(
            scenario, *extra, "--show-only", "templates/zz-notes.yaml", release=release, namespace=namespace
        )
        args[2] = str(chart)
        (configmap,) = parse_manifests(run_helm(*args).stdout)
    return str(configmap["data"]["notes"])


def render_error(scenario: str = "default", *extra: str) -> str:
    """Render expecting failure; returns helm's error message."""
    result = run_helm(*template_args(scenario, *extra), check=False)
    assert result.returncode != 0, f"expected helm template to fail, it rendered:\n{result.stdout[:2000]}"
    return result.stderr


def select(manifests: Iterable[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]


def one(manifests: Iterable[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = select(manifests, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_specs(manifests: Sequence[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    """(description, pod spec) of every Pod and pod template in the manifests."""
    out = []
    for m in manifests:
        where = f"{m['kind']}/{m['metadata']['name']}"
        if m["kind"] == "Pod":
            out.append((where, m["spec"]))
        elif m["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
            out.append((where, m["spec"]["template"]["spec"]))
    return out


def operator_container(manifests: Sequence[Manifest]) -> dict[str, Any]:
    deployment = one(manifests, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def operator_env(manifests: Sequence[Manifest]) -> dict[str, Any]:
    """The operator container's environment: name → value (or valueFrom)."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in operator_container(manifests)["env"]}
