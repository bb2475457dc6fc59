"""The HTTP layer through Flask's test client (real detector, a tiny in-test recognizer)."""

from __future__ import annotations

import io

from server_support import make_app

from ocr_server.api.ops import openapi_document


def _multipart(*images: bytes) -> dict:
    return {"image": [(io.BytesIO(data), f"img{i}.png") for i, data in enumerate(images)]}


def test_every_route_is_documented_and_every_documented_path_exists(app) -> None:  # type: ignore[no-untyped-def]
    doc = openapi_document()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<path:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method))
    assert routes - documented == set(), "routes missing from ocr_server/api/openapi.yaml"
    assert documented - routes == set(), "openapi.yaml documents routes the app does not have"


def test_health_info_openapi_and_page(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/health").json == {"status": "ok"}
    assert client.get("/ready").json == {"status": "ready", "model": {"name": "tiny", "version": "0.0.0"}}
    info = client.get("/api/v1/info").json
    assert info["ready"] is True and info["model"]["name"] == "tiny"
    assert "config" not in info  # only with server.exposeConfig
    exposed = make_app({"limits": {"maxImagesPerRequest": 3}, "server": {"exposeConfig": True}})
    config = exposed.test_client().get("/api/v1/info").json["config"]
    assert config["limits"]["maxImagesPerRequest"] == 3  # camelCase, as in the config file
    assert client.get("/openapi.json").json["paths"]["/api/v1/ocr"]["post"]
    page = client.get("/")
    assert page.status_code == 200 and b'id="drop"' in page.data
    assert b"http://" not in page.data and b"https://" not in page.data  # no CDN
    with client.get("/static/app.js") as static:  # a streamed file response: close it
        assert static.status_code == 200


def test_not_ready_is_503_with_retry_after() -> None:
    client = make_app(load=False).test_client()
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json["error"]["code"] == "not_ready"
    assert ready.headers["Retry-After"]
    assert client.post("/api/v1/ocr", data=b"x", content_type="image/png").status_code == 503
    assert client.get("/api/v1/info").json["ready"] is False


def test_failed_model_load_is_reported_not_crashed() -> None:
    from ocr_server.app import create_app
    from ocr_server.config import parse_config

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("model.onnx is corrupt")

    app = create_app(parse_config({}), load_model="sync", recognizer_loader=broken)
    ready = app.test_client().get("/ready")
    assert ready.status_code == 503 and "model.onnx is corrupt" in ready.json["error"]["message"]


def test_ocr_page_multipart_and_raw_body(client, page_png: bytes) -> None:  # type: ignore[no-untyped-def]
    for response in (
        client.post("/api/v1/ocr", data=_multipart(page_png), content_type="multipart/form-data"),
        client.post("/api/v1/ocr", data=page_png, content_type="image/png"),
    ):
        assert response.status_code == 200, response.json
        body = response.json
        assert set(body) == {"text", "lines", "image", "model", "timings_ms"}
        assert set(body["timings_ms"]) == {"decode", "preprocess", "detect", "recognize", "total"}
        assert body["image"] == {"width": 600, "height": 400}
        assert len(body["lines"]) >= 4
        tops = [line["box"][1] for line in body["lines"]]
        assert tops == sorted(tops)  # reading order: one text line per printed row here
        for line in body["lines"]:
            x1, y1, x2, y2 = line["box"]
            assert 0 <= x1 < x2 <= 600 and 0 <= y1 < y2 <= 400
        assert body["text"] == "\n".join(line["text"] for line in body["lines"])


def test_recognize_keeps_order_and_limits_count(client) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image
    from server_support import encode

    crops = [encode(Image.new("L", (w, 32), 255), "PNG") for w in (100, 30, 60)]
    response = client.post("/api/v1/recognize", data=_multipart(*crops), content_type="multipart/form-data")
    assert response.status_code == 200
    assert [r["text"] for r in response.json["results"]] == ["a" * 10, "a" * 3, "a" * 6]
    too_many = client.post("/api/v1/recognize", data=_multipart(*(crops + crops)), content_type="multipart/form-data")
    assert too_many.status_code == 413 and too_many.json["error"]["code"] == "too_many_images"


def test_ocr_takes_one_image_only(client, page_png: bytes) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/ocr", data=_multipart(page_png, page_png), content_type="multipart/form-data")
    assert response.status_code == 413 and response.json["error"]["code"] == "too_many_images"


def test_request_id_is_echoed_or_generated(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/health", headers={"X-Request-ID": "trace-42"}).headers["X-Request-ID"] == "trace-42"
    generated = client.get("/health", headers={"X-Request-ID": "bad id with spaces <script>"}).headers["X-Request-ID"]
    assert generated != "bad id with spaces <script>" and len(generated) == 32


def test_saturated_worker_sheds_with_429(app, page_png: bytes) -> None:  # type: ignore[no-untyped-def]
    limiter = app.extensions["ocr"].limiter
    client = app.test_client()
    held = [limiter.slot() for _ in range(limiter.limit)]
    for slot in held:
        slot.__enter__()
    try:
        response = client.post("/api/v1/ocr", data=page_png, content_type="image/png")
        assert response.status_code == 429 and response.headers["Retry-After"] == "1"
        assert response.json["error"]["code"] == "overloaded"
        assert client.get("/health").status_code == 200
    finally:
        for slot in held:
            slot.__exit__(None, None, None)
    assert client.post("/api/v1/ocr", data=page_png, content_type="image/png").status_code == 200


def test_metrics_exposition(client, page_png: bytes) -> None:  # type: ignore[no-untyped-def]
    client.post("/api/v1/ocr", data=page_png, content_type="image/png")
    text = client.get("/metrics").get_data(as_text=True)
    for name in (
        'ocr_http_requests_total{endpoint="/api/v1/ocr",method="POST",status="200"}',
        'ocr_stage_duration_seconds_bucket{le="0.005",stage="detect"}',
        "ocr_http_requests_in_flight",
        'ocr_model_info{name="tiny",version="0.0.0"} 1.0',
        "ocr_model_ready 1.0",
        "ocr_lines_recognized_total",
    ):
        assert name in text, name
