"""Layering: the pure layers (spec, builders, status, drift, crd) never reach for I/O.

A cheap stand-in for an import-linter contract: if a builder or the status computation imported
the API client or the apply/reconcile/handlers modules, it would stop being testable without a
cluster, which is the point of the split.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "ocr_operator"
PURE = [
    "spec.py",
    "status.py",
    "drift.py",
    "crd.py",
    "revision.py",
    "catalog.py",
    "failures.py",
    "permissions.py",
    *(f"builders/{p.name}" for p in (PACKAGE / "builders").glob("*.py")),
]
FORBIDDEN = (
    "ocr_operator.apply",
    "ocr_operator.reconcile",
    "ocr_operator.handlers",
    "ocr_operator.repair",
    "ocr_operator.events",
    "kubernetes.client",
    "kubernetes.dynamic",
    "kubernetes.config",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_do_not_import_io(module: str) -> None:
    bad = {name for name in _imports(PACKAGE / module) if name.startswith(FORBIDDEN)}
    assert not bad, f"{module} imports {bad}"


def test_no_package_named_operator() -> None:
    """``operator/`` stays a plain folder: a package of that name would shadow the stdlib module."""
    assert not (PACKAGE.parent / "__init__.py").exists()
