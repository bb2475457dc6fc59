"""The chart's crds/ must hold exactly the top-level crds/ (the single source) plus kopf's peering
CRDs; `python charts/sync_crds.py` (make chart-sync) regenerates the copies."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.chart.chart_tools import CHART_DIR, REPO_ROOT


def load_sync_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sync_crds", REPO_ROOT / "charts" / "sync_crds.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("sync_crds", module)
    spec.loader.exec_module(module)
    return module


sync_crds = load_sync_module()
SOURCES = sorted((REPO_ROOT / "crds").glob("*.yaml"))


def test_chart_crds_match_the_single_source() -> None:
    if not SOURCES:
        pytest.skip("the top-level crds/ is still empty (the operator issue writes it)")
    problems = sync_crds.drift()
    assert not problems, "\n".join([*problems, "fix: python charts/sync_crds.py (make chart-sync)"])


def test_ocrservice_crd_is_in_the_chart() -> None:
    if not SOURCES:
        pytest.skip("the top-level crds/ is still empty (the operator issue writes it)")
    names = set()
    for path in (CHART_DIR / "crds").glob("*.yaml"):
        names |= {doc["metadata"]["name"] for doc in yaml.safe_load_all(path.read_text()) if doc}
    assert "ocrservices.ocr-crnn.io" in names
    assert {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"} <= names


def test_sync_detects_and_repairs_drift(tmp_path: Path) -> None:
    source, chart = tmp_path / "crds", tmp_path / "chart-crds"
    source.mkdir()
    (source / "a.yaml").write_text("kind: CustomResourceDefinition\n")
    (source / "b.yaml").write_text("kind: CustomResourceDefinition  # b\n")
    chart.mkdir()
    (chart / "kopf-peering.yaml").write_text("kind: CustomResourceDefinition  # chart-owned\n")
    assert len(sync_crds.drift(source, chart)) == 2  # both missing

    changed = sync_crds.sync(source, chart)
    assert len(changed) == 2 and not sync_crds.drift(source, chart)
    assert (chart / "kopf-peering.yaml").read_text().endswith("# chart-owned\n"), "chart-owned file untouched"

    (chart / "a.yaml").write_text((chart / "a.yaml").read_text() + "# hand edit\n")
    (source / "b.yaml").unlink()
    problems = sync_crds.drift(source, chart)
    assert any("a.yaml: differs" in p for p in problems)
    assert any("b.yaml: stale" in p for p in problems)
    sync_crds.sync(source, chart)
    assert not sync_crds.drift(source, chart)
    assert not (chart / "b.yaml").exists()
