"""Unit tests of the pure pieces of a job's model: resolution at submission, the pick on the worker,
and the Idempotency-Key fingerprint that includes the model (no Redis, no workers)."""

from __future__ import annotations

import hashlib

import pytest

from ocr_server.config import parse_config
from ocr_server.errors import UnknownModel
from ocr_server.jobs.errors import ModelUnavailable
from ocr_server.jobs.pinning import (
    HAND_BACK_SECONDS,
    PinnedModel,
    configured_models,
    hand_back_delay,
    pick_loaded,
    resolve,
)
from ocr_server.jobs.store import fingerprint
from ocr_server.recognition.recognizer import ModelInfo

SELECTION = parse_config(
    {
        "model": {
            "name": "crnn-en",
            "version": "1.2.0",
            "additional": [
                {"name": "crnn-en", "version": "1.0.0"},
                {"name": "crnn-en", "version": "1.3.0"},
                {"name": "crnn-zh", "version": "1.0.0"},
            ],
        }
    }
).model


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "crnn-en:1.2.0"),  # no parameter: the default, pinned to its exact version
        ("", "crnn-en:1.2.0"),
        ("crnn-en", "crnn-en:1.2.0"),  # the default wins among its name's versions, as on /api/v1/ocr
        ("crnn-en:1.0.0", "crnn-en:1.0.0"),
        ("crnn-en@1.3.0", "crnn-en:1.3.0"),
        ("crnn-zh", "crnn-zh:1.0.0"),
    ],
)
def test_resolve_pins_the_exact_version_by_the_ocr_rule(value: str | None, expected: str) -> None:
    assert str(resolve(SELECTION, value)) == expected


def test_resolve_refuses_what_the_config_does_not_load() -> None:
    with pytest.raises(UnknownModel) as err:
        resolve(SELECTION, "crnn-en:1.1.0")  # installed in models/, but not in this config
    assert "crnn-en:1.1.0 is not loaded by this server" in err.value.message
    assert "crnn-en:1.2.0, crnn-en:1.0.0, crnn-en:1.3.0, crnn-zh:1.0.0" in err.value.message
    with pytest.raises(UnknownModel, match="not NAME or NAME:VERSION"):
        resolve(SELECTION, "../crnn-en")
    assert err.value.status == 400 and err.value.code == "unknown_model"


def test_configured_models_are_the_default_then_the_additional_ones() -> None:
    assert [f"{m.name}:{m.version}" for m in configured_models(SELECTION)] == [
        "crnn-en:1.2.0",
        "crnn-en:1.0.0",
        "crnn-en:1.3.0",
        "crnn-zh:1.0.0",
    ]


def test_pinned_model_round_trips_through_the_record() -> None:
    pinned = PinnedModel("crnn-zh", "1.0.0-rc.1+build.5")
    assert PinnedModel.parse(str(pinned)) == pinned
    assert pinned.to_json() == {"name": "crnn-zh", "version": "1.0.0-rc.1+build.5"}


WORKER = [ModelInfo("crnn-en", "1.2.0", 32, 97), ModelInfo("crnn-en", "1.0.0", 32, 97)]


def test_the_worker_reads_with_exactly_the_pinned_model() -> None:
    assert pick_loaded(WORKER, PinnedModel("crnn-en", "1.0.0")) == 1
    assert pick_loaded(WORKER, PinnedModel("crnn-en", "1.2.0")) == 0
    assert pick_loaded(WORKER, None) == 0  # a record from before models were pinned: the default


def test_a_pinned_model_the_worker_lacks_is_model_unavailable_not_another_model() -> None:
    # the same name at another version must not stand in: the job was pinned to 1.3.0 exactly
    with pytest.raises(ModelUnavailable) as err:
        pick_loaded(WORKER, PinnedModel("crnn-en", "1.3.0"))
    assert err.value.code == "model_unavailable"
    assert "crnn-en:1.3.0" in err.value.message and "crnn-en:1.2.0, crnn-en:1.0.0" in err.value.message
    with pytest.raises(ModelUnavailable) as err:
        pick_loaded(WORKER, PinnedModel("crnn-zh", "1.0.0"))
    assert "crnn-zh:1.0.0" in err.value.message


def test_a_page_whose_worker_lacks_the_model_is_handed_back_until_the_budget_is_spent() -> None:
    # a roll-out: offered again every HAND_BACK_SECONDS while the job is younger than the budget
    assert hand_back_delay(0.0, 600) == HAND_BACK_SECONDS
    assert hand_back_delay(599.0, 600) == pytest.approx(1.0)  # never past the budget
    assert hand_back_delay(600.0, 600) is None  # spent: the page fails model_unavailable
    assert hand_back_delay(0.0, 0) is None  # modelWaitSeconds 0: fail at once


def test_the_fingerprint_covers_the_model() -> None:
    pages = [b"page one", b"page two"]
    en10, en12 = PinnedModel("crnn-en", "1.0.0"), PinnedModel("crnn-en", "1.2.0")
    assert fingerprint(pages, en12) == fingerprint(list(pages), PinnedModel("crnn-en", "1.2.0"))
    assert fingerprint(pages, en10) != fingerprint(pages, en12)  # same files, another model: another job
    assert fingerprint(pages, en12) != fingerprint(pages[::-1], en12)  # order still counts
    assert fingerprint(pages, en12) != fingerprint(pages)
    # without a model, the digest is the files' alone, as before models were pinned
    legacy = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in pages)).hexdigest()
    assert fingerprint(pages) == legacy
