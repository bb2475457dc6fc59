"""Container images for the real node, built once per content of their inputs.

Why: the server image takes minutes to build (debootstrap base, ONNX Runtime and OpenCV into a venv),
and a test run must not pay that when nothing that goes into the image changed. Each image is saved
as a docker-archive tar named by a hash of every input (each file the build copies or reads, the
Dockerfile, build-local.sh, uv.lock) under `~/.cache/ocr-crnn/images/` (`$OCR_IMAGE_CACHE`): outside
the clone, like Go's build cache, so a fresh clone on a machine that built the same inputs before
(CI) rebuilds nothing. A tar that exists is reused as is, and containerd imports it
(`ctr -n k8s.io images import`) at every node start.

- `pause`: the pod sandbox. No registry is reachable here, so a tiny static PID 1
  (tests/cluster/node/pause.c) is packed with buildah and tagged exactly like containerd's
  `sandbox_image`, so the kubelet never pulls it.
- `server`, `operator`: docker/*.Dockerfile built by docker/build-local.sh (buildah, no daemon).
- `redis`: Debian's redis-server on the same base (tests/cluster/node/redis.Dockerfile), for the
  operator-run Redis of an OcrService with jobs (its default image would come from a registry).

`python -m tests.cluster.images [NAME...]` builds what is missing and prints the tar paths.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = Path(os.environ.get("TOOLS_DIR", REPO_ROOT / ".tools"))
CACHE_HOME = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
IMAGE_DIR = Path(os.environ.get("OCR_IMAGE_CACHE") or CACHE_HOME / "ocr-crnn" / "images")
NODE_FILES = Path(__file__).resolve().parent / "node"
# Builds run at niceness 10 (the project's rule for long builds on shared CPUs), whatever ours is.
NICE = ["nice", "-n", str(max(0, 10 - os.nice(0)))]
BUILDAH = [*NICE, "buildah", "--storage-driver", "vfs"]
# Must equal containerd's sandbox_image (tests/cluster/node/containerd.toml): then nothing is pulled.
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
# The tags the chart (appVersion) and the CRD default use: imagePullPolicy IfNotPresent finds them.
IMAGE_VERSION = "0.1.0"
SERVER_IMAGE = f"ghcr.io/ocr-crnn/ocr-server:{IMAGE_VERSION}"
# Test-only: a local name that no registry serves, so nobody mistakes it for a published image.
REDIS_IMAGE = "localhost/ocr-crnn-test/redis:7-bookworm"
OPERATOR_IMAGE = f"ghcr.io/ocr-crnn/ocr-operator:{IMAGE_VERSION}"

log = logging.getLogger("tests.cluster.images")


@dataclass(frozen=True)
class ImageSpec:
    """One image: its tag and the repo paths whose content decides whether it must be rebuilt."""

    name: str
    tag: str
    inputs: tuple[str, ...]


# Everything docker/build-local.sh and the Dockerfiles read from the repo (README.md is not: the
# Dockerfiles write a stub for the package's long description, so doc edits never rebuild an image).
_BUILD_INPUTS = (
    "docker/build-local.sh",
    ".dockerignore",
    "pyproject.toml",
    "uv.lock",
    "requirements/uv.txt",
)
IMAGES: dict[str, ImageSpec] = {
    "pause": ImageSpec("pause", PAUSE_IMAGE, ("tests/cluster/node/pause.c",)),
    "server": ImageSpec(
        "server",
        SERVER_IMAGE,
        ("docker/server.Dockerfile", *_BUILD_INPUTS, "ocr_server", "models"),
    ),
    "operator": ImageSpec(
        "operator",
        OPERATOR_IMAGE,
        (
            "docker/operator.Dockerfile",
            *_BUILD_INPUTS,
            "ocr_server/__init__.py",
            "ocr_server/config.py",
            "operator/ocr_operator",
        ),
    ),
    "redis": ImageSpec("redis", REDIS_IMAGE, ("tests/cluster/node/redis.Dockerfile", "docker/build-local.sh")),
}


class ImageBuildError(RuntimeError):
    """An image could not be built; the message carries the build output's tail."""


# Inside those paths, what .dockerignore keeps out of every image (training resume checkpoints).
_IGNORED = (REPO_ROOT / "models" / "resume",)


def _files(paths: Iterable[str]) -> list[Path]:
    """Every file under the given repo paths, sorted, without bytecode caches or what .dockerignore
    leaves out (a new resume checkpoint must not rebuild the server image)."""
    out: list[Path] = []
    for rel in paths:
        path = REPO_ROOT / rel
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out += [
                p
                for p in path.rglob("*")
                if p.is_file()
                and "__pycache__" not in p.parts
                and p.suffix != ".pyc"
                and not any(p.is_relative_to(ignored) for ignored in _IGNORED)
            ]
    return sorted(out)


def content_hash(spec: ImageSpec) -> str:
    """sha256 over the relative path and bytes of every input file: same inputs, same image."""
    digest = hashlib.sha256(spec.tag.encode())
    for path in _files(spec.inputs):
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def archive_path(spec: ImageSpec) -> Path:
    return IMAGE_DIR / f"{spec.name}-{content_hash(spec)}.tar"


def _run(argv: Sequence[str], timeout: float, what: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise ImageBuildError(f"{what} failed ({result.returncode}):\n{(result.stdout + result.stderr)[-4000:]}")
    return result.stdout


def missing_tools() -> list[str]:
    """Host commands the image builds need (empty when all are there)."""
    return [t for t in ("buildah", "debootstrap", "gcc") if shutil.which(t) is None]


# Tars of other contents kept per image: other checkouts on the machine (CI's clones, worktrees) share
# the cache, so the newest few stay instead of each build deleting the others'.
KEEP_PER_IMAGE = 4


def build_tag(spec: ImageSpec) -> str:
    """The tag an image is built under: its own per content, so two checkouts building at once never
    commit over each other's image (the shared tag, e.g. ghcr.io/...:0.1.0, is only written into the
    tar by `buildah push`)."""
    return f"localhost/ocr-crnn-build/ocr-{spec.name}:{content_hash(spec)}"


def _build_pause(spec: ImageSpec, tag: str) -> None:
    """gcc -static pause.c, then a FROM-scratch image with only that binary."""
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "pause"
        _run(["gcc", "-Os", "-static", "-o", str(binary), str(NODE_FILES / "pause.c")], 120, "gcc pause.c")
        _run(["strip", str(binary)], 30, "strip pause")
        ctr = _run([*BUILDAH, "from", "scratch"], 60, "buildah from scratch").strip()
        try:
            _run([*BUILDAH, "copy", ctr, str(binary), "/pause"], 60, "buildah copy")
            _run([*BUILDAH, "config", "--entrypoint", '["/pause"]', "--user", "65535:65535", ctr], 60, "config")
            _run([*BUILDAH, "commit", "--quiet", ctr, tag], 120, "buildah commit")
        finally:
            subprocess.run([*BUILDAH, "rm", ctr], capture_output=True)


def _build_project_image(spec: ImageSpec, tag: str) -> None:
    """docker/build-local.sh NAME (buildah + debootstrap base), niced: the CPUs are shared."""
    registry, version = tag.rsplit("/", 1)[0], tag.rsplit(":", 1)[1]
    assert tag == f"{registry}/ocr-{spec.name}:{version}", tag  # build-local.sh's naming
    env = {**os.environ, "REGISTRY": registry, "VERSION": version}
    script = str(REPO_ROOT / "docker" / "build-local.sh")
    _run([*NICE, script, spec.name], 3600, f"build {spec.name}", env=env)


def _build_redis(spec: ImageSpec, tag: str) -> None:
    """tests/cluster/node/redis.Dockerfile on the project's debootstrap base (build-local.sh --base)."""
    base = _run([*NICE, str(REPO_ROOT / "docker" / "build-local.sh"), "--base"], 3600, "base image")
    dockerfile = NODE_FILES / "redis.Dockerfile"
    _run(
        [*BUILDAH, "bud", "--quiet", "--format", "docker", "--isolation", "chroot", "--layers=false",
         "--build-arg", f"PYTHON_IMAGE={base.strip().splitlines()[-1]}", "-f", str(dockerfile), "-t", tag,
         str(NODE_FILES)],
        1800,
        "build redis",
    )  # fmt: skip


def ensure_image(name: str) -> Path:
    """The docker-archive tar of image `name` for the current inputs, built only when missing."""
    spec = IMAGES[name]
    tar = archive_path(spec)
    if tar.is_file():
        log.info("image %s: cached %s", spec.tag, tar.name)
        return tar
    missing = missing_tools()
    if missing:
        raise ImageBuildError(
            f"cannot build {spec.tag}: missing {', '.join(missing)} (apt-get install buildah debootstrap gcc)"
        )
    t0 = time.monotonic()
    tag = build_tag(spec)
    builders = {"pause": _build_pause, "redis": _build_redis}
    builders.get(name, _build_project_image)(spec, tag)
    if archive_path(spec) != tar:  # an input was edited during the (long) build: the image may mix both
        raise ImageBuildError(f"the inputs of {spec.tag} changed while it was built; build it again")
    IMAGE_DIR.mkdir(parents=True, exist_ok=True)
    partial = tar.with_suffix(f".{os.getpid()}.partial")
    try:
        _run([*BUILDAH, "push", "--quiet", tag, f"docker-archive:{partial}:{spec.tag}"], 1200, "buildah push")
        partial.replace(tar)  # atomic: a killed build never leaves a tar that looks complete
    finally:
        partial.unlink(missing_ok=True)
        subprocess.run([*BUILDAH, "rmi", tag], capture_output=True)  # the tar is the cache, not buildah's storage
    older = sorted(IMAGE_DIR.glob(f"{name}-*.tar"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in older[KEEP_PER_IMAGE:]:
        old.unlink(missing_ok=True)
    log.info("image %s: built %s in %.0fs", spec.tag, tar.name, time.monotonic() - t0)
    return tar


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.cluster.images", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"images, of {', '.join(IMAGES)} (default: all)")
    parser.add_argument("--check", action="store_true", help="only say whether each tar is current (exit 1 if not)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    names = args.names or list(IMAGES)
    if unknown := sorted(set(names) - set(IMAGES)):
        parser.error(f"unknown image(s) {', '.join(unknown)}")
    if args.check:
        stale = [n for n in names if not archive_path(IMAGES[n]).is_file()]
        for n in names:
            print(f"{'MISSING' if n in stale else 'ok'} {n} {archive_path(IMAGES[n])}")
        return 1 if stale else 0
    try:
        for name in names:
            print(ensure_image(name))
    except ImageBuildError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
