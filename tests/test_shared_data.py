"""One setting finds the shared datasets, and a missing one is a skip locally but a failure in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr_server import shared_data
from tests import needs


def test_default_is_shared_data_beside_the_repo_root() -> None:
    assert shared_data.data_root({}) == shared_data.REPO_ROOT.parent / "shared" / "data"
    assert Path(__file__).resolve().parents[1] == shared_data.REPO_ROOT


def test_env_var_moves_every_set(tmp_path: Path) -> None:
    env = {shared_data.ENV_VAR: str(tmp_path)}
    assert shared_data.dataset_dir("sroie-dev", env) == tmp_path / "sroie-dev"
    assert shared_data.manifest_path("iiit5k-train", env) == tmp_path / "iiit5k-train" / "manifest.jsonl"


def test_require_names_the_path_it_looked_at(tmp_path: Path) -> None:
    env = {shared_data.ENV_VAR: str(tmp_path)}
    with pytest.raises(shared_data.SharedDataMissing, match=str(tmp_path / "sroie-dev" / "pages.jsonl")):
        shared_data.require("sroie-dev", env)
    (tmp_path / "sroie-dev").mkdir()
    (tmp_path / "sroie-dev" / "pages.jsonl").write_text("{}\n")
    assert shared_data.require("sroie-dev", env) == tmp_path / "sroie-dev"


def test_validation_only_sets_follow_shared_readme() -> None:
    assert {d.name for d in shared_data.DATASETS.values() if d.validation_only} == {"sroie-dev", "iiit5k-train"}


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_prerequisite_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv(shared_data.ENV_VAR, str(tmp_path))
    with pytest.raises(outcome, match="sroie-dev"):
        needs.shared_dataset("sroie-dev")
