"""Fixtures for the operator's unit tests."""

from __future__ import annotations

import pytest

from tests.ocr_operator.helpers import FakeApi


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi()
