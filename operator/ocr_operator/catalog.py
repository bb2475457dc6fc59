"""PURE: which model versions each server image bundles, so an unknown ``model.version`` is refused
before it rolls out pods that can never become ready.

Why the operator cannot simply ask the image: it runs no containers and pulls no images.  The
deployment that runs the operator knows what it ships (the Helm chart's ``operator.bundledModels``,
passed as the ``BUNDLED_MODELS`` environment variable, a JSON object of image → model folders).  An
image not listed there is not checked: custom images may bundle anything, and the stuck-rollout
report (``Progressing=False``/``Degraded``, naming the model) still tells the truth about them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from ocr_operator.builders.meta import model_ref
from ocr_operator.spec import OcrServiceSpec

BUNDLED_MODELS_ENV = "BUNDLED_MODELS"


class CatalogError(ValueError):
    """``BUNDLED_MODELS`` is not a JSON object of image → list of model names."""


@dataclass(frozen=True)
class ModelCatalog:
    """``images``: ``repository:tag`` → the ``<name>-<version>`` model folders baked into it."""

    images: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> ModelCatalog:
        """From the ``BUNDLED_MODELS`` JSON text; empty or unset: nothing is checked."""
        if not text or not text.strip():
            return cls()
        try:
            raw = json.loads(text)
        except ValueError as err:
            raise CatalogError(f"{BUNDLED_MODELS_ENV} is not JSON: {err}") from err
        if not isinstance(raw, dict) or not all(
            isinstance(v, list) and all(isinstance(m, str) for m in v) for v in raw.values()
        ):
            example = '{"repo:tag": ["crnn-en-1.1.0"]}'
            raise CatalogError(f"{BUNDLED_MODELS_ENV} must map images to lists of models: {example}")
        return cls({str(image): frozenset(models) for image, models in raw.items()})

    def unknown_model(self, spec: OcrServiceSpec) -> str | None:
        """Why ``spec`` asks for a model its image does not bundle, or ``None`` (known, or not checked)."""
        image = f"{spec.image.repository}:{spec.image.tag}"
        bundled = self.images.get(image)
        if bundled is None or model_ref(spec) in bundled:
            return None
        has = ", ".join(sorted(bundled)) or "none"
        return (
            f"model {model_ref(spec)} is not bundled in image {image} (it has: {has}); "
            "the pods could never become ready, so nothing was rolled out"
        )
