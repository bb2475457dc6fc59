"""PURE: OcrService spec → the ConfigMap holding the server's config file.

The file is rendered through the server's own pydantic model (``ocr_server.config.OcrConfig``), so
what the operator writes is exactly what the server will accept at start-up.
"""

from __future__ import annotations

from typing import Any

from ocr_operator.builders.jobsconfig import build_jobs_config
from ocr_operator.builders.meta import CONFIG_KEY, SERVER_PORT, Owner, configmap_name, object_meta
from ocr_operator.spec import OcrServiceSpec
from ocr_server.config import (
    DetectionConfig,
    LimitsConfig,
    ModelSelection,
    OcrConfig,
    PreprocessingConfig,
    RecognitionConfig,
    ServerConfig,
)

_LIMIT_FIELDS = tuple(LimitsConfig.model_fields)


def build_server_config(spec: OcrServiceSpec, owner: Owner | None = None) -> OcrConfig:
    """Map the spec onto the server config: model, the threshold sections as they are, and
    ``spec.server`` split into the server's ``server`` (process) and ``limits`` (request) sections.
    The port is fixed: probes, Service and NetworkPolicies all rely on 8080.  With jobs enabled the
    ``jobs`` section needs ``owner`` (the operator-run Redis's Service is named after it)."""
    server = spec.server
    if spec.jobs.enabled and owner is None:
        raise ValueError("the jobs section of the server config needs the owner")
    return OcrConfig(
        model=ModelSelection(name=spec.model.name, version=spec.model.version),
        preprocessing=PreprocessingConfig.model_validate(spec.preprocessing.model_dump()),
        detection=DetectionConfig.model_validate(spec.detection.model_dump()),
        recognition=RecognitionConfig.model_validate(spec.recognition.model_dump()),
        limits=LimitsConfig.model_validate({f: getattr(server, f) for f in _LIMIT_FIELDS}),
        server=ServerConfig(
            workers=server.workers, threads=server.threads, log_level=server.log_level, port=SERVER_PORT
        ),
        jobs=build_jobs_config(owner, spec) if owner is not None else None,
    )


def render_config(spec: OcrServiceSpec, owner: Owner | None = None) -> str:
    """The ``config.yaml`` text (deterministic: sorted keys, so its hash only moves with its values)."""
    return build_server_config(spec, owner).to_yaml()


def build_configmap(owner: Owner, spec: OcrServiceSpec) -> dict[str, Any]:
    """The ConfigMap the server pods mount at ``/etc/ocr``."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(owner, spec, configmap_name(owner)),
        "data": {CONFIG_KEY: render_config(spec, owner)},
    }
