"""How the project installs: from uv.lock, torch only for training, one OpenCV per environment,
benchmark peers outside the project environment, and a ``make help`` that reads cleanly."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.lockfile import closure

REPO_ROOT = Path(__file__).resolve().parents[1]
CUDA = ("torch", "triton", "nvidia-", "cuda-")
OPENCV = ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless")


def make_extras(variable: str) -> list[str]:
    """The extras a Makefile environment is synced with (``PROJECT_EXTRAS := server …``)."""
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(rf"^{variable} := (.+)$", text, re.MULTILINE)
    assert found, f"{variable} is not set in the Makefile"
    return found.group(1).split()


def test_serving_and_operator_never_pull_torch() -> None:
    env = closure(["server", "operator"])
    assert "onnxruntime" in env and "kopf" in env
    assert [name for name in env if name.startswith(CUDA)] == []


def test_training_extra_brings_torch() -> None:
    assert "torch" in closure(["train"])


@pytest.mark.parametrize("variable", ["PROJECT_EXTRAS", "BENCH_EXTRAS"])
def test_each_environment_gets_exactly_one_opencv(variable: str) -> None:
    env = closure(make_extras(variable))
    assert [name for name in env if name in OPENCV] == ["opencv-python-headless"]


def test_benchmark_peers_stay_out_of_the_project_environment() -> None:
    project, bench = closure(make_extras("PROJECT_EXTRAS")), closure(make_extras("BENCH_EXTRAS"))
    assert "bench" not in make_extras("PROJECT_EXTRAS")
    assert {"rapidocr-onnxruntime", "locust"} <= set(bench)
    assert not {"rapidocr-onnxruntime", "locust"} & set(project)


def test_this_interpreter_has_one_opencv_and_no_peers() -> None:
    """The environment the tests run in (``make test``: .venv) is the one the lock describes."""
    installed = {(d.metadata["Name"] or "").lower() for d in metadata.distributions()}
    assert sorted(installed & set(OPENCV)) == ["opencv-python-headless"]
    if Path(sys.prefix).resolve() == (REPO_ROOT / ".venv").resolve():
        assert not installed & {"rapidocr-onnxruntime", "rapidocr_onnxruntime", "locust"}


def test_serving_and_operator_modules_import_without_torch() -> None:
    """Every module of ocr_server and ocr_operator (bar the entry points that start things)."""
    script = """
import importlib, pkgutil, sys
import ocr_server, ocr_operator
skip = {"ocr_server.wsgi"}
for pkg in (ocr_server, ocr_operator):
    for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if mod.name not in skip and not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)
print("torch" in sys.modules, "ocr_server.cli.read" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    torch_loaded, walked = out.stdout.split()
    assert (torch_loaded, walked) == ("False", "True"), out.stdout


def test_serving_and_operator_tests_collect_with_torch_unimportable() -> None:
    """Their test modules (and what they import) load in an environment without torch."""
    script = (
        "import sys; sys.modules['torch'] = None; import pytest; "
        "sys.exit(pytest.main(['-q', '--collect-only', '-p', 'no:cacheprovider', "
        "'tests/ocr_server', 'tests/recognition', 'tests/ocr_operator', 'tests/chart', 'tests/cluster']))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert re.search(r"\d+ tests? collected", out.stdout), out.stdout[-500:]


def test_make_help_is_clean_text() -> None:
    out = subprocess.run(["make", "--no-print-directory", "help"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "$$" not in text and "$(" not in text and "\x1b" not in text, text
    listed = {line.split()[0] for line in text.splitlines() if line.strip()}
    assert {"setup", "setup-python", "bench-setup", "lock", "run", "test"} <= listed
