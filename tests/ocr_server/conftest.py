"""Fixtures for the OCR server tests (the helpers live in ``server_support.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cjk_support import CIPHER_NAME, CIPHER_VERSION, CipherModels, make_cipher_models
from PIL import Image
from server_support import (
    SERVER_CONFIG,
    RunningServer,
    SroiePage,
    encode,
    load_sroie_pages,
    make_app,
    model_installed,
    raw_png,
    start_server,
    start_server_with,
    stop_server,
    tamper_golden_texts,
    text_page,
)

from tests.needs import missing


@pytest.fixture(scope="session")
def png_bomb() -> bytes:
    return raw_png(10_000, 10_000)


@pytest.fixture(scope="session")
def page_png() -> bytes:
    return encode(Image.fromarray(text_page()), "PNG")


@pytest.fixture(scope="session")
def sroie_pages() -> list[SroiePage]:
    return load_sroie_pages()


@pytest.fixture(scope="session")
def sroie_page(sroie_pages: list[SroiePage]) -> SroiePage:
    """A small receipt (fast to OCR on a shared 2-core machine)."""
    return min(sroie_pages[:10], key=lambda p: p.width * p.height)


@pytest.fixture(scope="session")
def sroie_line_crops(sroie_page: SroiePage) -> list[bytes]:
    """PNG crops of the page's ground-truth lines, cut as shared/README.md says (10 % margin)."""
    img = Image.open(sroie_page.path).convert("L")
    crops = []
    for line in sroie_page.lines[:6]:
        x1, y1, x2, y2 = line["box"]
        m = max(2, round(0.1 * (y2 - y1)))
        crops.append(encode(img.crop((max(0, x1 - m), max(0, y1 - m), x2 + m, y2 + m)), "PNG"))
    return crops


@pytest.fixture(scope="session")
def require_model() -> None:
    if not model_installed():
        missing("the default model bundle (models/<name>-<version>/) is not installed")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, require_model: None) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("gunicorn"), SERVER_CONFIG)
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def default_bundle(require_model: None) -> Path:
    """The default model's bundle folder."""
    from ocr_server.config import load_config
    from ocr_server.recognition.registry import resolve_model

    cfg = load_config(environ={})
    return resolve_model(cfg.model.name, cfg.model.version, cfg.model.models_dir).path


@pytest.fixture(scope="session")
def tampered_server(tmp_path_factory: pytest.TempPathFactory, default_bundle: Path) -> Iterator[RunningServer]:
    """A real gunicorn serving a copy of the default bundle whose golden texts were tampered with:
    alive but unready (the reading gate failed)."""
    models = tamper_golden_texts(default_bundle, tmp_path_factory.mktemp("tampered-models"))
    running = start_server_with(tmp_path_factory.mktemp("tampered"), "tampered", models_dir=models, until_ready=False)
    yield running
    stop_server(running)


@pytest.fixture()
def app():  # type: ignore[no-untyped-def]
    return make_app({"limits": {"maxImagesPerRequest": 3, "maxUploadBytes": 200_000}})


@pytest.fixture()
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture(scope="session")
def cipher_models(tmp_path_factory: pytest.TempPathFactory) -> CipherModels:
    """A models folder with crnn-en-1.2.0 and its Chinese cipher twin crnn-zh-0.0.0-test (cjk_support.py)."""
    return make_cipher_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def zh_server(tmp_path_factory: pytest.TempPathFactory, cipher_models: CipherModels) -> Iterator[RunningServer]:
    """A real gunicorn whose default model is the cipher crnn-zh, with crnn-en loaded beside it."""
    config = {
        **SERVER_CONFIG,
        "model": {
            "name": CIPHER_NAME,
            "version": CIPHER_VERSION,
            "modelsDir": str(cipher_models.models_dir),
            "additional": [{"name": "crnn-en", "version": "1.2.0"}],
        },
    }
    running = start_server(tmp_path_factory.mktemp("gunicorn-zh"), config, name="zh")
    yield running
    stop_server(running)
