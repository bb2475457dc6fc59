"""Which model a page task reads with when its job is pinned to one the worker's config does not name:
an installed bundle is loaded on demand (at most ``max_extra`` kept), a missing or misreading one is
``model_unavailable``.  Stand-in service and models: the real workers are in ``test_jobs_models.py``."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ocr_server.jobs.errors import ModelUnavailable
from ocr_server.jobs.on_demand import OnDemandModels
from ocr_server.jobs.pinning import PinnedModel
from ocr_server.recognition.golden import GoldenResult
from ocr_server.recognition.recognizer import ModelInfo
from ocr_server.recognition.registry import ModelNotFoundError


@dataclass
class _Loaded:
    info: ModelInfo
    golden: GoldenResult = field(default_factory=lambda: GoldenResult("passed"))


@dataclass
class _Service:
    """Configured: crnn-en 1.2.0; installed beside it: 1.0.0, 1.1.0 and a 0.9.0 that misreads."""

    models: tuple[_Loaded, ...] = (_Loaded(ModelInfo("crnn-en", "1.2.0", 32, 97)),)
    built: list[str] = field(default_factory=list)

    def build_model(self, name: str, version: str) -> _Loaded:
        if version not in ("1.0.0", "1.1.0", "0.9.0"):
            raise ModelNotFoundError(f"{name}-{version} is not installed")
        self.built.append(version)
        golden = GoldenResult("failed", reason="CER 0.4 over 0.1") if version == "0.9.0" else GoldenResult("passed")
        return _Loaded(ModelInfo(name, version, 32, 97), golden)


def test_a_configured_model_is_used_as_is_and_nothing_is_loaded() -> None:
    service, extra = _Service(), OnDemandModels()
    assert extra.pick(service, PinnedModel("crnn-en", "1.2.0")) is service.models[0]  # type: ignore[arg-type]
    assert extra.pick(service, None) is service.models[0]  # type: ignore[arg-type]
    assert service.built == [] and extra.loaded == []


def test_an_installed_bundle_is_loaded_once_and_the_least_recently_used_dropped() -> None:
    service, extra = _Service(), OnDemandModels(max_extra=1)
    old = extra.pick(service, PinnedModel("crnn-en", "1.0.0"))  # type: ignore[arg-type]
    assert old.info.version == "1.0.0"
    assert extra.pick(service, PinnedModel("crnn-en", "1.0.0")) is old  # type: ignore[arg-type]
    assert service.built == ["1.0.0"]  # loaded once for every page after
    extra.pick(service, PinnedModel("crnn-en", "1.1.0"))  # type: ignore[arg-type]
    assert extra.loaded == [PinnedModel("crnn-en", "1.1.0")]  # 1.0.0 dropped: one extra model at most
    assert extra.pick(service, PinnedModel("crnn-en", "1.0.0")).info.version == "1.0.0"  # type: ignore[arg-type]
    assert service.built == ["1.0.0", "1.1.0", "1.0.0"]


def test_a_bundle_neither_configured_nor_installed_is_model_unavailable() -> None:
    with pytest.raises(ModelUnavailable) as err:
        OnDemandModels().pick(_Service(), PinnedModel("crnn-en", "1.3.0"))  # type: ignore[arg-type]
    assert "crnn-en:1.3.0" in err.value.message and "nor is it installed here" in err.value.message


def test_an_installed_bundle_that_misreads_its_golden_set_is_not_used() -> None:
    extra = OnDemandModels()
    with pytest.raises(ModelUnavailable) as err:
        extra.pick(_Service(), PinnedModel("crnn-en", "0.9.0"))  # type: ignore[arg-type]
    assert "misreads its golden set" in err.value.message and "CER 0.4" in err.value.message
    assert extra.loaded == []
