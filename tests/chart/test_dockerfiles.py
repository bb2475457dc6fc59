"""Static checks of docker/*.Dockerfile and .dockerignore (no container engine runs on the dev
machines or in CI, so the images themselves are not built by the test suite)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.chart.chart_tools import REPO_ROOT

DOCKERFILES = {name: REPO_ROOT / "docker" / f"{name}.Dockerfile" for name in ("server", "operator")}


def stages(text: str) -> list[str]:
    """The Dockerfile split at each FROM (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", text)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    out: list[list[str]] = []
    for line in lines:
        if line.startswith("FROM "):
            out.append([])
        if out:
            out[-1].append(line)
    return ["\n".join(stage) for stage in out]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_multi_stage_slim_non_root(name: str) -> None:
    text = DOCKERFILES[name].read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    build, final = stages(text)
    assert build.startswith("FROM ${PYTHON_IMAGE} AS build")
    assert final.startswith("FROM ${PYTHON_IMAGE}")
    # Exactly uv.lock (a lock out of date with pyproject.toml fails the build), with the pinned uv.
    assert f"uv sync --locked --no-dev --extra {name}" in build
    assert "COPY pyproject.toml uv.lock ./" in build
    assert "pip install -q --require-hashes -r /tmp/uv.txt" in build
    # The final stage: the venv from the build stage, a non-root user, no installers or compilers.
    assert "COPY --from=build /opt/venv /opt/venv" in final
    assert re.search(r"^USER 10001:10001$", final, re.M)
    assert "useradd --uid 10001 --gid 10001" in final
    for tool in ("pip install", "apt-get", "gcc", "build-essential"):
        assert tool not in final, f"{name}: {tool} in the final stage"
    assert "torch" not in text.replace("no torch", ""), "CPU image: no torch"


def test_server_image_bakes_in_the_weights() -> None:
    final = stages(DOCKERFILES["server"].read_text())[1]
    assert "COPY --chown=root:root models/ /app/models/" in final
    assert "OCR__MODEL__MODELS_DIR=/app/models" in final
    assert "ocr_server/gunicorn.conf.py" in final and "EXPOSE 8080" in final


def copy_sources(text: str) -> list[str]:
    sources = []
    for line in re.sub(r"\\\n", " ", text).splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            args = [a for a in line.split()[1:] if not a.startswith("--")]
            sources += args[:-1]
    return sources


@pytest.mark.parametrize("name", DOCKERFILES)
def test_copied_files_exist_and_are_not_dockerignored(name: str) -> None:
    ignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    allowed = [ln[1:].rstrip("/") for ln in ignore if ln.startswith("!")]
    for src in copy_sources(DOCKERFILES[name].read_text()):
        path = REPO_ROOT / src
        assert path.exists(), f"{name}: COPY {src}: not in the repo"
        assert any(src.rstrip("/") == a or src.startswith(a + "/") for a in allowed), f"{src} is dockerignored"


def test_models_folder_holds_the_default_model() -> None:
    folders = [p for p in (REPO_ROOT / "models").glob("*-*") if p.is_dir()]
    if not folders:
        pytest.skip("no model weights under models/ yet (the recognizer issue ships them)")
    assert any(p.name == "crnn-en-1.0.0" for p in folders), [p.name for p in folders]


def test_operator_image_carries_only_the_config_schema_of_the_server() -> None:
    build = stages(DOCKERFILES["operator"].read_text())[0]
    assert "COPY ocr_server/__init__.py ocr_server/config.py ./ocr_server/" in build
    assert "PYTHONPATH=/app/operator" in DOCKERFILES["operator"].read_text()
    assert 'CMD ["python3", "-m", "ocr_operator"]' in DOCKERFILES["operator"].read_text()


def test_dockerignore_drops_caches() -> None:
    lines = set(Path(REPO_ROOT / ".dockerignore").read_text().splitlines())
    assert "*" in lines and "**/__pycache__" in lines
