"""Import weight: what the operator and gunicorn's master import must stay light."""

from __future__ import annotations

import subprocess
import sys

from server_support import GUNICORN_CONF, REPO_ROOT

HEAVY = ("flask", "cv2", "onnxruntime", "numpy", "prometheus_client", "torch")


def _modules_after(code: str, **env: str) -> set[str]:
    script = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True, env=env or None
    )
    return set(out.stdout.split())


def test_config_import_is_light() -> None:
    assert _modules_after("import ocr_server.config") == set()


def test_gunicorn_master_loads_no_model_runtime(tmp_path, require_model) -> None:  # type: ignore[no-untyped-def]
    """The config module runs in the master before fork: no ONNX Runtime/OpenCV thread pools there."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR__")}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    loaded = _modules_after(f"import runpy; runpy.run_path({str(GUNICORN_CONF)!r})", **env)
    assert loaded == set()
