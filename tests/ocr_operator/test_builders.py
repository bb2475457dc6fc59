"""Pure builders: spec → manifests, without any cluster.

Golden files pin the complete output for a default and a fully-featured spec (regenerate with
``UPDATE_GOLDEN=1 pytest tests/ocr_operator/test_builders.py`` and review the diff); the targeted
tests below state the rules that matter, so a golden update cannot silently break them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from ocr_operator.builders import Children, build_children, service_url
from ocr_operator.builders.configmap import build_server_config, render_config
from ocr_operator.builders.ingress import BODY_SIZE_ANNOTATION
from ocr_operator.builders.meta import CONFIG_HASH_ANNOTATION, MODEL_ANNOTATION, config_hash
from ocr_operator.spec import parse_spec
from ocr_server.config import parse_config
from tests.ocr_operator.helpers import OWNER

GOLDEN = Path(__file__).parent / "golden"

FULL_SPEC: dict[str, Any] = {
    "replicas": 3,
    "image": {"repository": "registry.example.com/ocr-server", "tag": "0.2.0", "pullPolicy": "Always"},
    "model": {"name": "crnn-en", "version": "1.1.0"},
    "preprocessing": {"claheClipLimit": 3.5, "deskew": False, "binarize": True, "binarizeThreshold": 128},
    "detection": {"maxLines": 200, "layout": "rows"},
    "recognition": {"decoder": "beam", "beamWidth": 8},
    "server": {"workers": 2, "threads": 1, "maxUploadBytes": 10485760, "requestTimeoutSeconds": 30},
    "resources": {"requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12, "targetCPUUtilizationPercentage": 60},
    "ingress": {
        "enabled": True,
        "host": "ocr.example.com",
        "className": "nginx",
        "tls": {"secretName": "ocr-tls"},
        "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
    },
    "service": {"type": "LoadBalancer", "port": 8080, "annotations": {"lb.example.com/internal": "true"}},
    "nodeSelector": {"kubernetes.io/arch": "amd64"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ocr", "effect": "NoSchedule"}],
    "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
    "podLabels": {"team": "docs"},
    "podAnnotations": {"prometheus.io/scrape": "true"},
}


class _GoldenDumper(yaml.SafeDumper):
    """Multi-line strings (the config file) as literal blocks, so golden diffs read like the file."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_GoldenDumper.add_representer(str, _str)


def _children(spec: dict[str, Any] | None = None) -> Children:
    return build_children(OWNER, parse_spec(spec or {}))


def _docs(children: Children) -> list[dict[str, Any]]:
    return [c for c in children.by_kind().values() if c is not None]


@pytest.mark.parametrize(("name", "spec"), [("default", {}), ("full", FULL_SPEC)])
def test_golden(name: str, spec: dict[str, Any]) -> None:
    path = GOLDEN / f"{name}.yaml"
    rendered = yaml.dump_all(_docs(_children(spec)), Dumper=_GoldenDumper, sort_keys=True)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8"), f"{path.name} changed: rerun with UPDATE_GOLDEN=1 and review"


def test_every_child_is_owned_labelled_and_namespaced() -> None:
    for doc in _docs(_children(FULL_SPEC)):
        meta = doc["metadata"]
        assert meta["namespace"] == "default"
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "ocr-crnn.io/v1alpha1",
                "kind": "OcrService",
                "name": "invoices",
                "uid": OWNER.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert meta["labels"] == {
            "app.kubernetes.io/name": "ocr-server",
            "app.kubernetes.io/instance": "invoices",
            "app.kubernetes.io/version": "0.2.0",
            "app.kubernetes.io/component": "ocr-server",
            "app.kubernetes.io/managed-by": "ocr-operator",
        }


def test_configmap_is_a_valid_server_config_built_from_the_spec() -> None:
    cm = _children(FULL_SPEC).configmap
    config = parse_config(yaml.safe_load(cm["data"]["config.yaml"]))
    assert config.model.version == "1.1.0"
    assert config.preprocessing.clahe_clip_limit == 3.5 and config.preprocessing.binarize_threshold == 128
    assert config.recognition.decoder == "beam" and config.detection.max_lines == 200
    assert config.detection.layout == "rows"
    assert (config.server.workers, config.server.threads, config.server.port) == (2, 1, 8080)
    assert (config.limits.max_upload_bytes, config.limits.request_timeout_seconds) == (10485760, 30)
    assert cm["metadata"]["name"] == "invoices-config"


def test_default_spec_renders_the_server_defaults() -> None:
    assert build_server_config(parse_spec({})) == parse_config({})


def _template(children: Children) -> dict[str, Any]:
    return children.deployment["spec"]["template"]


def test_threshold_change_changes_config_hash_and_pod_template() -> None:
    before, after = _children({}), _children({"preprocessing": {"claheClipLimit": 3.0}})
    assert before.configmap["data"] != after.configmap["data"]
    hash_before = _template(before)["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    hash_after = _template(after)["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    assert hash_before != hash_after
    assert hash_after == config_hash(render_config(parse_spec({"preprocessing": {"claheClipLimit": 3.0}})))


def test_unrelated_change_keeps_the_pod_template() -> None:
    """Changing the Service port must not roll the pods."""
    assert _template(_children({})) == _template(_children({"service": {"port": 8080}}))


def test_model_or_image_change_rolls_the_deployment_without_downtime() -> None:
    base = _children({})
    for change in ({"model": {"version": "1.0.1"}}, {"image": {"tag": "0.1.1"}}):
        assert _template(base) != _template(_children(change)), change
    new = _children({"model": {"version": "1.0.1"}})
    assert _template(new)["metadata"]["annotations"][MODEL_ANNOTATION] == "crnn-en-1.0.1"
    strategy = base.deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0


def test_pod_passes_restricted_pod_security() -> None:
    pod = _template(_children(FULL_SPEC))["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]
    assert not any("hostPath" in v for v in pod["volumes"])


def test_probes_config_mount_and_resources() -> None:
    (container,) = _template(_children({}))["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/ready" and startup["periodSeconds"] * startup["failureThreshold"] >= 120
    assert {"name": "OCR_CONFIG", "value": "/etc/ocr/config.yaml"} in container["env"]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "1000m", "memory": "1Gi"},
    }
    assert container["image"] == "ghcr.io/ocr-crnn/ocr-server:0.1.0"


def test_autoscaling_hands_replicas_to_the_hpa() -> None:
    manual = _children({"replicas": 4})
    assert manual.deployment["spec"]["replicas"] == 4 and manual.hpa is None
    auto = _children(FULL_SPEC)
    assert "replicas" not in auto.deployment["spec"]
    assert auto.hpa is not None
    hpa_spec = auto.hpa["spec"]
    assert (hpa_spec["minReplicas"], hpa_spec["maxReplicas"]) == (3, 12)
    assert hpa_spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "invoices"}
    assert hpa_spec["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 60}


def test_ingress_only_when_enabled_with_tls_and_body_size() -> None:
    assert _children({}).ingress is None
    ingress = _children(FULL_SPEC).ingress
    assert ingress is not None
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["ocr.example.com"], "secretName": "ocr-tls"}]
    assert ingress["metadata"]["annotations"][BODY_SIZE_ANNOTATION] == "11m"  # 10 MiB upload + 1m
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend == {"service": {"name": "invoices", "port": {"name": "http"}}}
    explicit = _children({"ingress": {"enabled": True, "host": "a.example.com", "maxBodySize": "50m"}}).ingress
    assert explicit is not None and explicit["metadata"]["annotations"][BODY_SIZE_ANNOTATION] == "50m"


def test_service_and_url() -> None:
    svc = _children(FULL_SPEC).service
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    # Stable labels only (not name or version), the same as the Deployment's immutable selector.
    assert svc["spec"]["selector"] == {
        "app.kubernetes.io/instance": "invoices",
        "app.kubernetes.io/component": "ocr-server",
    }
    assert service_url(OWNER, parse_spec({})) == "http://invoices.default.svc/"
    assert service_url(OWNER, parse_spec({"service": {"port": 8080}})) == "http://invoices.default.svc:8080/"
    assert service_url(OWNER, parse_spec(FULL_SPEC)) == "https://ocr.example.com/"


def test_selectors_use_only_stable_labels_the_pods_carry() -> None:
    """The Deployment's selector is immutable: it (and the Service's and the spread constraint's, which
    must select the same pods) uses neither the name nor the version label, and the pods match it."""
    children = _children(FULL_SPEC)
    selector = children.deployment["spec"]["selector"]["matchLabels"]
    assert selector == {"app.kubernetes.io/instance": "invoices", "app.kubernetes.io/component": "ocr-server"}
    assert children.service["spec"]["selector"] == selector
    template = _template(children)
    (spread,) = template["spec"]["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"] == selector
    pod_labels = template["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    # Not "ocr-crnn": that is the chart's operator pods' name.
    assert pod_labels["app.kubernetes.io/name"] == "ocr-server"


def test_placement_and_pod_metadata() -> None:
    template = _template(_children(FULL_SPEC))
    assert template["metadata"]["labels"]["team"] == "docs"
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    pod = template["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "ocr", "effect": "NoSchedule"}]
    assert "nodeAffinity" in pod["affinity"]
    # Without placement settings the fields are left out entirely (nothing for a later apply to fight over).
    plain = _template(_children({}))["spec"]
    assert not {"nodeSelector", "tolerations", "affinity"} & set(plain)


def test_builders_are_deterministic() -> None:
    assert _docs(_children(FULL_SPEC)) == _docs(_children(FULL_SPEC))
