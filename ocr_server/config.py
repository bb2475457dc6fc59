"""The server's configuration schema: the one contract between the OCR server and the operator.

The operator renders an ``OcrService`` spec into this very model and writes it, as YAML, into the
ConfigMap the server reads at start-up.  Because both sides use this module, a threshold the
server does not know cannot be set, and a bad value is refused before any pod starts.

Importing this module must stay cheap: pydantic and PyYAML only (no torch, no Flask, no OpenCV),
because the operator imports it too.

Keys are camelCase in YAML/JSON (Kubernetes style, identical to the CRD's field names); in Python
they are snake_case attributes.  Environment variables override file values:
``OCR__PREPROCESSING__CLAHE_CLIP_LIMIT=3.5`` sets ``preprocessing.claheClipLimit``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

CONFIG_ENV_VAR = "OCR_CONFIG"
ENV_PREFIX = "OCR__"
DEFAULT_MODEL_NAME = "crnn-en"
DEFAULT_MODEL_VERSION = "1.6.0"
# lines read with a lower mean confidence are read again at other widths (recognition/reread.py)
DEFAULT_REREAD_BELOW = 0.9


class _Section(BaseModel):
    """Base for every section: camelCase keys, unknown keys rejected, values re-validated on assignment."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_assignment=True,
        frozen=False,
    )


MODEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
MODEL_VERSION_PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$"
MAX_ADDITIONAL_MODELS = 8


class ModelRefConfig(_Section):
    """One more bundle a server loads beside its default, chosen per request with ``?model=``."""

    name: str = Field(pattern=MODEL_NAME_PATTERN, description="Model name.")
    version: str = Field(pattern=MODEL_VERSION_PATTERN, description="Semantic version of the model.")


class ModelSelection(_Section):
    """Which recognizer to load: ``<modelsDir>/<name>-<version>/``, plus optional ``additional``
    bundles that a request picks with ``?model=name`` or ``?model=name:version``."""

    name: str = Field(DEFAULT_MODEL_NAME, pattern=MODEL_NAME_PATTERN, description="Model name.")
    version: str = Field(
        DEFAULT_MODEL_VERSION, pattern=MODEL_VERSION_PATTERN, description="Semantic version of the model."
    )
    models_dir: str | None = Field(
        None, description="Folder holding model folders; default: the repository's/image's models/."
    )
    additional: list[ModelRefConfig] = Field(
        default_factory=list,
        max_length=MAX_ADDITIONAL_MODELS,
        description="More bundles loaded beside the default one (each costs its weights in memory and "
        "load time); a request picks one with ?model=NAME or ?model=NAME:VERSION.",
    )

    @model_validator(mode="after")
    def _distinct(self) -> ModelSelection:
        seen = {(self.name, self.version)}
        for ref in self.additional:
            if (ref.name, ref.version) in seen:
                raise ValueError(f"model {ref.name}-{ref.version} is listed twice (additional repeats a model)")
            seen.add((ref.name, ref.version))
        return self


class PreprocessingConfig(_Section):
    """Thresholds of the OpenCV preprocessing stage (every one is a CRD field of the same name)."""

    grayscale: bool = Field(True, description="Convert to one channel before anything else.")
    clahe_enabled: bool = Field(True, description="Contrast-limited adaptive histogram equalisation on/off.")
    clahe_clip_limit: float = Field(2.0, ge=0.1, le=40.0, description="CLAHE contrast clip limit.")
    clahe_tile_size: int = Field(8, ge=1, le=64, description="CLAHE tile grid size (tiles per side).")
    denoise_strength: int = Field(
        0, ge=0, le=30, description="Non-local-means denoise filter strength h; 0 turns denoising off."
    )
    stretch_low_contrast: bool = Field(
        True,
        description=(
            "Stretch a page whose ink and ground lie within 128 gray levels (pastel or coloured text, grey "
            "print) to the full range before line detection."
        ),
    )
    invert_light_text: bool = Field(
        True,
        description=(
            "Turn regions of light text on dark ground (slides, dark-mode screenshots, banners) dark on light "
            "before line detection."
        ),
    )
    deskew: bool = Field(True, description="Estimate and undo page rotation.")
    deskew_max_angle: float = Field(
        10.0, ge=0.0, le=45.0, description="Largest rotation (degrees) deskew will correct."
    )
    max_side: int = Field(
        2000, ge=256, le=10000, description="Longer image side is scaled down to at most this many pixels."
    )
    min_side: int = Field(
        0, ge=0, le=4000, description="Images whose longer side is below this are scaled up to it; 0: never."
    )
    binarize: bool = Field(False, description="Binarise the page before detection and recognition.")
    binarize_threshold: int = Field(
        0, ge=0, le=255, description="Global threshold for binarisation; 0 means Otsu's automatic threshold."
    )

    @model_validator(mode="after")
    def _sides_consistent(self) -> PreprocessingConfig:
        if self.min_side and self.min_side > self.max_side:
            raise ValueError(f"minSide ({self.min_side}) must not exceed maxSide ({self.max_side})")
        return self


class DetectionConfig(_Section):
    """Text-line detector settings."""

    detector: Literal["opencv"] = Field("opencv", description="Line detector implementation.")
    min_line_height: int = Field(6, ge=1, le=500, description="Smaller components are ignored (pixels).")
    max_line_height: int = Field(300, ge=2, le=5000, description="Taller components are ignored (pixels).")
    min_line_width: int = Field(4, ge=1, le=5000, description="Narrower lines are dropped (pixels).")
    merge_gap: float = Field(
        1.2, ge=0.0, le=20.0, description="Horizontal gap, in line heights, under which word boxes merge."
    )
    adaptive_block_size: int = Field(
        31, ge=3, le=255, description="Neighbourhood of the adaptive threshold (odd number of pixels)."
    )
    adaptive_c: float = Field(15.0, ge=-50.0, le=100.0, description="Constant subtracted in adaptive threshold.")
    max_lines: int = Field(500, ge=1, le=5000, description="At most this many lines are recognised per page.")
    layout: Literal["auto", "rows"] = Field(
        "auto",
        description=(
            "Reading order of a page: auto reads columns of running text one after another and everything "
            "else row by row; rows reads the whole page row by row (forms, tables, slides)."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> DetectionConfig:
        if self.adaptive_block_size % 2 == 0:
            raise ValueError(f"adaptiveBlockSize must be odd, got {self.adaptive_block_size}")
        if self.min_line_height >= self.max_line_height:
            raise ValueError("minLineHeight must be smaller than maxLineHeight")
        return self


class RecognitionConfig(_Section):
    """Recognizer runtime settings."""

    decoder: Literal["greedy", "beam"] = Field("greedy", description="CTC decoder.")
    beam_width: int = Field(5, ge=1, le=100, description="Beam width when decoder is beam.")
    batch_size: int = Field(32, ge=1, le=512, description="Line crops per inference batch.")
    consistent_case: bool = Field(
        True,
        description=(
            "Recase words read in an irregular mix of cases (dAYtOnA) to the lower, Title or UPPER casing the "
            "network finds almost as likely; confident camel case (iPhone) stays."
        ),
    )
    reread_below: float = Field(
        DEFAULT_REREAD_BELOW,
        ge=0.0,
        le=1.0,
        description=(
            "Lines read with a lower mean confidence are read again squeezed and stretched sideways (0.8x, 1.25x) "
            "and the surest reading is kept; 0 never reads again."
        ),
    )
    threads: int = Field(0, ge=0, le=64, description="Inference threads per worker; 0: cores / workers.")
    min_line_confidence: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Page OCR drops detected lines read with lower confidence (logos, rules, stains); 0 keeps all.",
    )

    def recognizer_options(self) -> dict[str, Any]:
        """The keyword arguments of ``load_recognizer`` these settings give (threads aside: the caller
        knows how many workers share the cores)."""
        return {
            "decoder": self.decoder,
            "beam_width": self.beam_width,
            "batch_size": self.batch_size,
            "consistent_case": self.consistent_case,
            "reread_below": self.reread_below,
        }


class LimitsConfig(_Section):
    """Request limits that protect the server from hostile or oversize input."""

    max_upload_bytes: int = Field(5 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024, description="Max body bytes.")
    max_pixels: int = Field(
        40_000_000, ge=10_000, le=500_000_000, description="Max decoded pixels (decompression-bomb guard)."
    )
    max_images_per_request: int = Field(64, ge=1, le=1024, description="Max images in one recognize call.")
    max_concurrent_requests: int = Field(
        4, ge=1, le=1024, description="In-flight OCR requests per worker before shedding with 429."
    )
    request_timeout_seconds: int = Field(
        60, ge=1, le=3600, description="A request's work is abandoned and answered 504 after this many seconds."
    )
    max_request_pixels: int = Field(
        40_000_000,
        ge=10_000,
        le=2_000_000_000,
        description="Max decoded pixels of all images of one request together (413 above).",
    )
    max_worker_pixels: int = Field(
        40_000_000,
        ge=10_000,
        le=4_000_000_000,
        description="Max decoded pixels of all in-flight requests of one worker (429 above); bounds memory.",
    )
    header_timeout_seconds: int = Field(
        10, ge=1, le=300, description="A client must send its request headers within this many seconds."
    )
    body_timeout_seconds: int = Field(
        10, ge=1, le=3600, description="A client must send its whole request body within this many seconds (408)."
    )
    max_pages: int = Field(
        50, ge=1, le=10_000, description="Max pages of one PDF or frames of one TIFF read in a request."
    )
    max_document_pixels: int = Field(
        400_000_000,
        ge=10_000,
        le=20_000_000_000,
        description="Max rendered pixels of all pages of one document together.",
    )
    pdf_dpi: int = Field(
        200, ge=36, le=600, description="Resolution PDF pages are rendered at (lowered for a page over maxPixels)."
    )

    @model_validator(mode="after")
    def _budgets_consistent(self) -> LimitsConfig:
        if self.max_request_pixels > self.max_worker_pixels:
            raise ValueError(
                f"maxRequestPixels ({self.max_request_pixels}) must not exceed "
                f"maxWorkerPixels ({self.max_worker_pixels})"
            )
        return self


class ServerConfig(_Section):
    """Process settings used by gunicorn."""

    workers: int = Field(1, ge=1, le=64, description="gunicorn worker processes.")
    threads: int = Field(
        2, ge=1, le=64, description="Unused since the gevent worker (kept so existing configs stay valid)."
    )
    port: int = Field(8080, ge=1, le=65535, description="Listen port.")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    expose_config: bool = Field(
        False, description="Show the full active configuration in /api/v1/info (off: anyone could read it)."
    )


class JobsConfig(_Section):
    """Asynchronous batch OCR (``/api/v1/jobs``) on Redis + Celery; see ``ocr_server/jobs/``.

    The Redis password never sits in this file (it is a ConfigMap): it comes from the
    ``OCR_REDIS_PASSWORD`` environment variable, which the operator fills from a Secret."""

    enabled: bool = Field(False, description="Serve /api/v1/jobs (the server) and run page tasks (the workers).")
    redis_url: str = Field(
        "redis://localhost:6379/0",
        pattern=r"^rediss?://[^\s]+$",
        max_length=1024,
        description="Redis holding the queue, the uploaded pages and the results (no password here).",
    )
    queue: str = Field(
        "ocr-pages", pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$", description="Celery queue (a Redis list) of page tasks."
    )
    result_ttl_seconds: int = Field(
        86400, ge=60, le=30 * 86400, description="Uploaded pages and results are kept this long, then answer 410."
    )
    max_files_per_job: int = Field(100, ge=1, le=10000, description="Most images one job may hold.")
    max_bytes_per_job: int = Field(
        64 * 1024 * 1024, ge=1024, le=2 * 1024 * 1024 * 1024, description="Most image bytes one job may hold."
    )
    max_jobs_per_client: int = Field(
        0, ge=0, le=100000, description="Unexpired jobs one client address may hold (0: no limit)."
    )
    worker_concurrency: int = Field(
        1, ge=0, le=64, description="Page tasks one worker pod runs at once (processes); 0: one per core."
    )
    visibility_timeout_seconds: int = Field(
        300,
        ge=5,
        le=86400,
        description="A page taken by a worker that died without acknowledging it is re-queued after this long.",
    )
    task_time_limit_seconds: int = Field(120, ge=5, le=3600, description="A page task running longer is killed.")
    model_wait_seconds: int = Field(
        600,
        ge=0,
        le=86400,
        description=(
            "A page its worker cannot read (the job's pinned model neither configured nor installed there, "
            "or the worker's models still loading) is handed back to the queue for another worker for up "
            "to this long after the job was submitted, then fails (model_unavailable, not_ready); 0: at once."
        ),
    )
    metrics_port: int = Field(9100, ge=1, le=65535, description="Port of a worker's Prometheus endpoint.")

    @model_validator(mode="after")
    def _timeouts_consistent(self) -> JobsConfig:
        if self.visibility_timeout_seconds <= self.task_time_limit_seconds:
            raise ValueError("visibilityTimeoutSeconds must exceed taskTimeLimitSeconds (or pages run twice)")
        return self


class OcrConfig(_Section):
    """The whole server configuration file."""

    model: ModelSelection = Field(default_factory=ModelSelection)
    preprocessing: PreprocessingConfig = Field(default_factory=PreprocessingConfig)
    detection: DetectionConfig = Field(default_factory=DetectionConfig)
    recognition: RecognitionConfig = Field(default_factory=RecognitionConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    # Optional, so a config without jobs renders exactly as before (no pod roll on operator upgrade).
    jobs: JobsConfig | None = None

    @property
    def jobs_enabled(self) -> bool:
        return self.jobs is not None and self.jobs.enabled

    def to_yaml(self) -> str:
        """Serialise with camelCase keys, the format of the ConfigMap and of ``OCR_CONFIG`` files."""
        data = self.model_dump(by_alias=True, exclude_none=True)
        if not data["model"]["additional"]:  # an empty list renders as before: no pod roll on upgrade
            del data["model"]["additional"]
        return yaml.safe_dump(data, sort_keys=True)


class ConfigError(Exception):
    """The configuration file or environment holds a bad value; the message names the field."""


def _snake_to_camel(name: str) -> str:
    return to_camel(name.lower())


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``OCR__SECTION__FIELD=value`` variables into a nested camelCase dict (values stay strings;
    pydantic coerces them, so ``"true"`` and ``"3.5"`` work)."""
    out: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = [p for p in key[len(ENV_PREFIX) :].split("__") if p]
        if len(parts) != 2:
            continue
        section, field = _snake_to_camel(parts[0]), _snake_to_camel(parts[1])
        out.setdefault(section, {})[field] = value
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def format_validation_error(err: ValidationError) -> str:
    """One line per bad field, ``section.field: message``, for start-up errors and operator conditions."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<root>"
        lines.append(f"{loc}: {e['msg']}")
    return "; ".join(lines)


def parse_config(data: Mapping[str, Any] | None) -> OcrConfig:
    """Validate a mapping (camelCase or snake_case keys) into an :class:`OcrConfig`."""
    try:
        return OcrConfig.model_validate(dict(data or {}))
    except ValidationError as err:
        raise ConfigError(f"invalid OCR configuration: {format_validation_error(err)}") from err


def load_config(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> OcrConfig:
    """Read the YAML file (``path`` or ``$OCR_CONFIG``; none means defaults), apply environment
    overrides, validate.  Raises :class:`ConfigError` with a readable message on any bad value."""
    environ = os.environ if environ is None else environ
    path = path or environ.get(CONFIG_ENV_VAR) or None
    data: dict[str, Any] = {}
    if path:
        p = Path(path)
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"cannot read config file {p}: {err.strerror or err}") from err
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {p} is not valid YAML: {err}") from err
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {p} must hold a mapping at the top level")
        data = loaded
    return parse_config(_merge(data, env_overrides(environ)))
