"""Every error, ours or Werkzeug's or unexpected, answers ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import pytest
from server_support import make_app

from ocr_server import errors


@pytest.mark.parametrize("cls", errors.ALL_ERRORS)
def test_each_error_maps_to_its_status_and_code(cls: type[errors.OcrError]) -> None:
    app = make_app(load=False)

    @app.get("/raise")
    def _raise() -> str:
        raise cls("a readable message", retry_after=7 if cls.status in (429, 503) else None)

    response = app.test_client().get("/raise")
    assert response.status_code == cls.status
    assert response.json == {"error": {"code": cls.code, "message": "a readable message"}}
    if cls.status in (429, 503):
        assert response.headers["Retry-After"] == "7"


def test_codes_are_unique_and_statuses_are_http_errors() -> None:
    codes = [cls.code for cls in errors.ALL_ERRORS]
    assert len(codes) == len(set(codes))
    assert all(400 <= cls.status < 600 for cls in errors.ALL_ERRORS)


def test_unexpected_exception_is_a_bare_500_without_stack_trace() -> None:
    app = make_app(load=False)

    @app.get("/boom")
    def _boom() -> str:
        raise RuntimeError("secret internal detail /etc/passwd")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.json == {"error": {"code": "internal_error", "message": "internal server error"}}
    body = response.get_data(as_text=True)
    assert "secret" not in body and "Traceback" not in body


def test_werkzeug_errors_are_json(client) -> None:  # type: ignore[no-untyped-def]
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong_method = client.get("/api/v1/ocr")
    assert wrong_method.status_code == 405 and wrong_method.json["error"]["code"] == "method_not_allowed"


def test_body_over_max_content_length_is_413_json(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/ocr", data=b"\xff\xd8\xff" + b"\0" * 400_000, content_type="image/jpeg")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert "200000" in response.json["error"]["message"]
