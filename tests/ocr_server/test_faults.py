"""The test-only fault switch: what it accepts, what it refuses, and how many requests it fails."""

from __future__ import annotations

from fractions import Fraction

import pytest
from PIL import Image
from server_support import TinyRecognizer, encode

from ocr_server.app import create_app
from ocr_server.config import ConfigError, parse_config
from ocr_server.faults import ErrorInjector, FaultInjection, FaultInjectionError, parse_fault_injection


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, FaultInjection()),
        ("", FaultInjection()),
        ("   ", FaultInjection()),
        ("errors=0", FaultInjection()),
        ("errors=0.5", FaultInjection(Fraction(1, 2))),
        ("errors=1", FaultInjection(Fraction(1))),
        ("golden=fail", FaultInjection(golden_fail=True)),
        (" errors = 0.25 , golden=fail ", FaultInjection(Fraction(1, 4), True)),
    ],
)
def test_accepted_values(text: str | None, expected: FaultInjection) -> None:
    assert parse_fault_injection(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("errors=1.5", "between 0 and 1"),
        ("errors=-0.1", "between 0 and 1"),
        ("errors=half", "must be a fraction"),
        ("errors=1/0", "must be a fraction"),
        ("golden=pass", "golden takes only the value fail"),
        ("latency=5", "unknown key 'latency'"),
        ("errors", "expected key=value"),
        ("errors=0.1,", "expected key=value"),
        ("errors=0.1,errors=0.2", "errors is given twice"),
    ],
)
def test_refused_values_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(FaultInjectionError, match=message) as err:
        parse_fault_injection(text)
    assert isinstance(err.value, ConfigError)  # start-up refuses it like any bad config
    assert str(err.value).startswith("OCR_FAULT_INJECTION: ")


def test_info_shows_only_active_faults() -> None:
    assert FaultInjection().to_json() == {} and not FaultInjection().active
    assert FaultInjection(Fraction(1, 2), True).to_json() == {"errors": 0.5, "golden": "fail"}


@pytest.mark.parametrize(("fraction", "n", "fails"), [("0", 20, 0), ("0.5", 20, 10), ("1", 7, 7), ("0.1", 30, 3)])
def test_error_injector_fails_exactly_the_fraction(fraction: str, n: int, fails: int) -> None:
    injector = ErrorInjector(Fraction(fraction))
    decisions = [injector.should_fail() for _ in range(n)]
    assert sum(decisions) == fails
    if fraction == "0.5":
        assert decisions[:4] == [False, True, False, True]  # evenly spread, not bunched


def test_injected_errors_are_500_json_after_the_upload_is_read() -> None:
    app = create_app(
        parse_config({}),
        load_model="sync",
        recognizer_loader=lambda *a, **k: TinyRecognizer(),
        faults=parse_fault_injection("errors=1"),
    )
    client = app.test_client()
    png = encode(Image.new("L", (60, 20), 255), "PNG")
    response = client.post("/api/v1/recognize", data=png, content_type="image/png")
    assert response.status_code == 500
    assert response.json["error"]["code"] == "injected_fault"
    # bad input is still refused as bad input: the fault comes after the upload is validated
    assert client.post("/api/v1/recognize", data=b"", content_type="image/png").status_code == 400
    info = client.get("/api/v1/info").json
    assert info["fault_injection"] == {"errors": 1.0}
    assert client.get("/ready").status_code == 200 and client.get("/health").status_code == 200
