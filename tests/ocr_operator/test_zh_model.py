"""``OcrService.spec.model: {name: crnn-zh, version: 1.0.0}`` (issue 19): the CRD schema takes it,
it reaches the server's config unchanged, and the chart's catalog lists the bundle the image ships."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from ocr_operator.builders.configmap import render_config
from ocr_operator.catalog import ModelCatalog
from ocr_operator.spec import parse_spec
from ocr_server.config import parse_config

ROOT = Path(__file__).resolve().parents[2]
ZH = {"model": {"name": "crnn-zh", "version": "1.0.0"}}


def _model_schema() -> dict:
    crd = yaml.safe_load((ROOT / "crds" / "ocrservices.ocr-crnn.io.yaml").read_text(encoding="utf-8"))
    version = crd["spec"]["versions"][0]
    return version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["model"]["properties"]


def test_the_crd_schema_accepts_the_chinese_model() -> None:
    schema = _model_schema()
    assert re.fullmatch(schema["name"]["pattern"].strip("^$"), "crnn-zh")
    assert re.fullmatch(schema["version"]["pattern"].strip("^$"), "1.0.0")
    assert not re.fullmatch(schema["name"]["pattern"].strip("^$"), "crnn_zh")  # the pattern can refuse


def test_the_chinese_model_flows_into_the_server_config() -> None:
    config = parse_config(yaml.safe_load(render_config(parse_spec(ZH))))
    assert (config.model.name, config.model.version) == ("crnn-zh", "1.0.0")
    assert config.model.additional == []  # the operator renders one model per OcrService


def test_the_chart_catalog_lists_the_shipped_chinese_bundle() -> None:
    """The server image bundles every ``models/<name>-<version>/`` of the repo (resume checkpoints
    excepted), so the chart's catalog must accept what ships and still refuse what does not."""
    values = yaml.safe_load((ROOT / "charts" / "ocr-crnn" / "values.yaml").read_text(encoding="utf-8"))
    catalog = ModelCatalog.parse(json.dumps(values["operator"]["bundledModels"]))
    shipped = sorted(p.name for p in (ROOT / "models").iterdir() if (p / "model.json").is_file())
    assert "crnn-zh-1.0.0" in shipped
    for image, models in values["operator"]["bundledModels"].items():
        assert sorted(models) == shipped, f"{image}: the chart lists {models}, the image ships {shipped}"
    assert catalog.unknown_model(parse_spec(ZH)) is None
    assert catalog.unknown_model(parse_spec({})) is None  # the default English model
    reason = catalog.unknown_model(parse_spec({"model": {"name": "crnn-zh", "version": "9.9.9"}}))
    assert reason is not None and "crnn-zh-9.9.9 is not bundled" in reason
