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
    assert client.get("/ready").json == {
        "status": "ready",
        "model": {"name": "tiny", "version": "0.0.0"},
        "golden": {"passed": True, "status": "absent"},
    }
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


# --------------------------------------------------------------------------- documents and formats


def test_pdf_upload_answers_pages_and_every_format(client) -> None:  # type: ignore[no-untyped-def]
    import pdf_samples

    pdf = pdf_samples.text_pdf([["INVOICE 12345", "TOTAL 99.50"], ["PAGE TWO"]])
    body = client.post("/api/v1/ocr", data=pdf, content_type="application/pdf").json
    assert set(body) == {"text", "document", "pages", "model", "timings_ms"}
    assert body["document"] == {"type": "pdf", "pages": 2}
    assert [(p["page"], p["width"], p["height"], p["source"]) for p in body["pages"]] == [
        (1, 1700, 2200, "ocr"),
        (2, 1700, 2200, "ocr"),
    ]
    assert len(body["pages"][0]["lines"]) == 2 and len(body["pages"][1]["lines"]) == 1
    assert body["text"].count("\f") == 1
    assert set(body["timings_ms"]) == {"decode", "preprocess", "detect", "recognize", "total"}

    text = client.post("/api/v1/ocr?format=text", data=pdf, content_type="application/pdf")
    assert text.mimetype == "text/plain" and text.data.decode().count("\f") == 1
    hocr = client.post("/api/v1/ocr", data=pdf, content_type="application/pdf", headers={"Accept": "text/html"})
    assert hocr.mimetype == "text/html" and hocr.data.count(b'class="ocr_page"') == 2
    alto = client.post("/api/v1/ocr?format=alto", data=pdf, content_type="application/pdf")
    assert alto.mimetype == "application/xml" and b"ns-v4#" in alto.data
    out = client.post("/api/v1/ocr", data=pdf, content_type="application/pdf", headers={"Accept": "application/pdf"})
    assert out.mimetype == "application/pdf" and out.data.startswith(b"%PDF-")
    import pypdfium2 as pdfium

    assert len(pdfium.PdfDocument(out.data)) == 2


def test_words_and_page_images_are_opt_in(client, page_png: bytes) -> None:  # type: ignore[no-untyped-def]
    plain = client.post("/api/v1/ocr", data=page_png, content_type="image/png").json
    assert "words" not in plain["lines"][0]
    body = client.post("/api/v1/ocr?words=true", data=page_png, content_type="image/png").json
    line = body["lines"][0]
    assert [w["text"] for w in line["words"]] == line["text"].split()
    for w in line["words"]:
        x1, y1, x2, y2 = w["box"]
        assert line["box"][0] <= x1 < x2 <= line["box"][2] and line["box"][1] <= y1 < y2 <= line["box"][3]
    import pdf_samples

    pdf = pdf_samples.text_pdf([["A B"]])
    page = client.post("/api/v1/ocr?page_images=1", data=pdf, content_type="application/pdf").json["pages"][0]
    assert page["image"].startswith("data:image/jpeg;base64,")
    bad = client.post("/api/v1/ocr?words=maybe", data=page_png, content_type="image/png")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "bad_request"


def test_use_text_layer_returns_the_pdf_text_without_ocr(client) -> None:  # type: ignore[no-untyped-def]
    import pdf_samples

    pdf = pdf_samples.text_pdf([["INVOICE 12345"], []])  # page 2 has no text: it is OCRed
    body = client.post("/api/v1/ocr?use_text_layer=true&words=true", data=pdf, content_type="application/pdf").json
    first, second = body["pages"]
    assert first["source"] == "text_layer" and first["text"] == "INVOICE 12345"
    assert [w["text"] for w in first["lines"][0]["words"]] == ["INVOICE", "12345"]
    assert first["lines"][0]["confidence"] == 1.0
    assert second["source"] == "ocr" and second["lines"] == []
    ocred = client.post("/api/v1/ocr", data=pdf, content_type="application/pdf").json
    assert ocred["pages"][0]["source"] == "ocr" and ocred["pages"][0]["text"].startswith("a")  # the tiny reader


def test_multipage_tiff_answers_pages_single_frame_tiff_keeps_the_image_shape(client) -> None:  # type: ignore[no-untyped-def]
    import pdf_samples
    from server_support import text_page

    tiff = pdf_samples.multipage_tiff([text_page(600, 400, lines=2), text_page(500, 300, lines=3)])
    body = client.post("/api/v1/ocr", data=tiff, content_type="image/tiff").json
    assert body["document"] == {"type": "tiff", "pages": 2}
    assert [(p["width"], p["height"]) for p in body["pages"]] == [(600, 400), (500, 300)]
    single = pdf_samples.multipage_tiff([text_page(600, 400, lines=2)])
    assert set(client.post("/api/v1/ocr", data=single, content_type="image/tiff").json) == {
        "text",
        "lines",
        "image",
        "model",
        "timings_ms",
    }


def test_document_errors_are_precise_json(client) -> None:  # type: ignore[no-untyped-def]
    import pdf_samples

    cases = [
        (pdf_samples.encrypted_pdf(), 422, "encrypted_document"),
        (pdf_samples.not_a_pdf(), 422, "undecodable_document"),
        (pdf_samples.million_pages_pdf(), 413, "too_many_pages"),
    ]
    for data, status, code in cases:
        response = client.post("/api/v1/ocr", data=data, content_type="application/pdf")
        assert response.status_code == status, response.json
        assert response.json["error"]["code"] == code
    unknown = client.post("/api/v1/ocr?format=docx", data=pdf_samples.text_pdf([["A"]]), content_type="application/pdf")
    assert unknown.status_code == 400 and unknown.json["error"]["code"] == "unknown_format"
    # line recognition takes images only
    pdf_line = client.post("/api/v1/recognize", data=pdf_samples.text_pdf([["A"]]), content_type="application/pdf")
    assert pdf_line.status_code == 415


def test_document_over_the_time_budget_is_413() -> None:
    import pdf_samples

    client = make_app({"limits": {"requestTimeoutSeconds": 2}}).test_client()
    response = client.post("/api/v1/ocr", data=pdf_samples.slow_page_pdf(), content_type="application/pdf")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "document_too_slow"
    assert "split it" in response.json["error"]["message"]


def test_every_error_code_is_documented_in_openapi() -> None:
    from pathlib import Path

    from ocr_server import errors

    text = (Path(errors.__file__).parent / "api" / "openapi.yaml").read_text(encoding="utf-8")
    missing = [cls.code for cls in errors.ALL_ERRORS if f"`{cls.code}`" not in text and f" {cls.code}" not in text]
    assert not missing, f"error codes absent from openapi.yaml: {missing}"
