"""The CRD file is generated from the models, and its server-config sections equal the server's schema.

Two independent guards: (1) the committed YAML equals what ``operator/hack/gen_crd.py`` renders now
(someone changed spec.py or config.py without regenerating → fail); (2) the CRD's preprocessing,
detection, recognition and server properties are compared field by field with the server's own
pydantic JSON schema (a hand edit or a converter bug → fail).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ocr_operator.crd import CRD_PATH, build_crd, render_crd
from ocr_server.config import (
    DEFAULT_MODEL_VERSION,
    DetectionConfig,
    LimitsConfig,
    ModelSelection,
    PreprocessingConfig,
    RecognitionConfig,
    ServerConfig,
)

ROOT = Path(__file__).resolve().parents[2]
COMPARED_KEYS = ("type", "minimum", "maximum", "default", "enum", "pattern", "description")


def _crd_file() -> dict[str, Any]:
    return yaml.safe_load((ROOT / CRD_PATH).read_text(encoding="utf-8"))


def _spec_props() -> dict[str, Any]:
    version = _crd_file()["spec"]["versions"][0]
    return version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]


def _server_field(model: type[Any], name: str) -> dict[str, Any]:
    """The server's JSON schema of one field, with pydantic-only keys normalised away."""
    prop = dict(model.model_json_schema(by_alias=True)["properties"][name])
    prop.pop("title", None)
    if "const" in prop:
        prop["enum"] = [prop.pop("const")]
    return {k: prop[k] for k in COMPARED_KEYS if k in prop}


def _crd_field(prop: dict[str, Any]) -> dict[str, Any]:
    return {k: prop[k] for k in COMPARED_KEYS if k in prop}


def test_committed_crd_is_up_to_date() -> None:
    assert (ROOT / CRD_PATH).read_text(encoding="utf-8") == render_crd(), (
        "crds/ocrservices.ocr-crnn.io.yaml is stale: run python operator/hack/gen_crd.py"
    )


def test_gen_crd_check_mode_passes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "operator/hack/gen_crd.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("section", "model"),
    [("preprocessing", PreprocessingConfig), ("detection", DetectionConfig), ("recognition", RecognitionConfig)],
)
def test_config_sections_match_the_server_schema(section: str, model: type[Any]) -> None:
    crd_props = _spec_props()[section]["properties"]
    server_names = {f.alias or name for name, f in model.model_fields.items()}
    assert set(crd_props) == server_names
    for name in server_names:
        assert _crd_field(crd_props[name]) == _server_field(model, name), f"{section}.{name} drifted"


def test_server_section_mirrors_server_and_limits_fields() -> None:
    crd_props = _spec_props()["server"]["properties"]
    expected = {"workers": ServerConfig, "threads": ServerConfig, "logLevel": ServerConfig}
    expected.update({(f.alias or n): LimitsConfig for n, f in LimitsConfig.model_fields.items()})
    assert set(crd_props) == set(expected)
    for name, model in expected.items():
        assert _crd_field(crd_props[name]) == _server_field(model, name), f"server.{name} drifted"


def test_model_section_matches_server_model_selection() -> None:
    crd_props = _spec_props()["model"]["properties"]
    assert set(crd_props) == {"name", "version"}
    for name in crd_props:
        assert _crd_field(crd_props[name]) == _server_field(ModelSelection, name)


def _walk(node: dict[str, Any], path: str = "spec") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, node)]
    for name, sub in (node.get("properties") or {}).items():
        out.extend(_walk(sub, f"{path}.{name}"))
    if isinstance(node.get("items"), dict):
        out.extend(_walk(node["items"], f"{path}[]"))
    if isinstance(node.get("additionalProperties"), dict):
        out.extend(_walk(node["additionalProperties"], f"{path}{{}}"))
    return out


def test_schema_is_structural() -> None:
    """Every node has a type (or is int-or-string / preserve-unknown); no JSON-Schema-only keywords."""
    schema = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema, "root"):
        assert "type" in node or node.get("x-kubernetes-int-or-string"), path
        for banned in ("$ref", "$defs", "title", "const", "allOf", "oneOf", "nullable"):
            assert banned not in node, f"{path} has {banned}"
        if "anyOf" in node:
            assert node.get("x-kubernetes-int-or-string"), path
        if "additionalProperties" in node:
            assert isinstance(node["additionalProperties"], dict), path


def test_every_spec_field_is_described_for_kubectl_explain() -> None:
    spec = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    undocumented = [
        p for p, n in _walk(spec) if not n.get("description") and not p.endswith("[]") and not p.endswith("}")
    ]
    assert undocumented == []


def test_issue_defaults_are_in_the_schema() -> None:
    props = _spec_props()
    assert props["resources"]["properties"]["requests"]["properties"]["cpu"]["default"] == "500m"
    assert props["resources"]["properties"]["requests"]["properties"]["memory"]["default"] == "512Mi"
    assert props["resources"]["properties"]["limits"]["properties"]["cpu"]["default"] == "1000m"
    assert props["resources"]["properties"]["limits"]["properties"]["memory"]["default"] == "1Gi"
    auto = props["autoscaling"]["properties"]
    assert (auto["minReplicas"]["default"], auto["maxReplicas"]["default"]) == (2, 10)
    assert auto["targetCPUUtilizationPercentage"]["default"] == 70
    assert props["image"]["properties"]["repository"]["default"] == "ghcr.io/ocr-crnn/ocr-server"
    assert props["image"]["properties"]["tag"]["default"] == "0.1.0"
    assert props["model"]["properties"]["name"]["default"] == "crnn-en"
    assert props["model"]["properties"]["version"]["default"] == DEFAULT_MODEL_VERSION
    # Sections default to their full default value (CEL rules see every field even when omitted).
    assert props["autoscaling"]["default"] == {
        "enabled": False,
        "minReplicas": 2,
        "maxReplicas": 10,
        "targetCPUUtilizationPercentage": 70,
    }
    assert props["ingress"]["default"]["enabled"] is False and "host" not in props["ingress"]["default"]
    for section in ("image", "model", "preprocessing", "detection", "server", "resources", "service"):
        leaves = {k: v["default"] for k, v in props[section]["properties"].items() if "properties" not in v}
        assert {k: props[section]["default"][k] for k in leaves} == leaves, section


def test_cel_rules_cover_the_cross_field_constraints() -> None:
    props = _spec_props()
    rules = {
        r["rule"]
        for sec in ("autoscaling", "ingress", "preprocessing", "detection")
        for r in props[sec]["x-kubernetes-validations"]
    }
    assert "self.minReplicas <= self.maxReplicas" in rules
    assert "!self.enabled || has(self.host)" in rules
    assert "self.minSide == 0 || self.minSide <= self.maxSide" in rules


def test_api_identity_status_and_printer_columns() -> None:
    crd = _crd_file()
    assert crd["metadata"]["name"] == "ocrservices.ocr-crnn.io"
    assert crd["spec"]["group"] == "ocr-crnn.io"
    assert crd["spec"]["scope"] == "Namespaced"
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"]) == ("OcrService", "ocrservices", ["ocrs"])
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"].upper() for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == ["READY", "REPLICAS", "MODEL", "CANARY", "URL", "AGE"]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    for field in (
        "observedGeneration",
        "conditions",
        "replicas",
        "readyReplicas",
        "updatedReplicas",
        "modelVersion",
        "url",
        "canary",
        "history",
    ):
        assert field in status, field
    assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]
