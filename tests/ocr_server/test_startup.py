"""Start-up refusal: a bad config or a missing model stops the server with one readable line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from server_support import REPO_ROOT, free_port, gunicorn_command, server_env

BAD_CONFIGS = {
    "out of range": ({"preprocessing": {"claheClipLimit": 100}}, "preprocessing.claheClipLimit"),
    "unknown key": ({"limits": {"maxUploadMegabytes": 5}}, "limits.maxUploadMegabytes"),
    "even block size": ({"detection": {"adaptiveBlockSize": 30}}, "adaptiveBlockSize must be odd"),
    "wrong type": ({"server": {"workers": "many"}}, "server.workers"),
    "missing model": ({"model": {"version": "9.9.9"}}, "model crnn-en-9.9.9 not found"),
}


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)


def _assert_refused(result: subprocess.CompletedProcess[str], expected: str) -> None:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert output.startswith("ocr-server:") and expected in output, output


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_gunicorn_refuses_bad_config(case: str, tmp_path: Path) -> None:
    config, expected = BAD_CONFIGS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = _run(gunicorn_command(free_port()), server_env(path))
    _assert_refused(result, expected)


def test_bad_environment_override_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("{}\n", encoding="utf-8")
    result = _run(gunicorn_command(free_port()), server_env(path, OCR__LIMITS__MAX_UPLOAD_BYTES="lots"))
    _assert_refused(result, "limits.maxUploadBytes")


def test_unreadable_config_file_is_refused(tmp_path: Path) -> None:
    result = _run(gunicorn_command(free_port()), server_env(tmp_path / "missing.yaml"))
    _assert_refused(result, "cannot read config file")


def test_wsgi_import_refuses_too(tmp_path: Path) -> None:
    """``flask --app ocr_server.wsgi run`` and other WSGI servers get the same one-line refusal."""
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"limits": {"maxPixels": 1}}), encoding="utf-8")
    result = _run([sys.executable, "-c", "import ocr_server.wsgi"], server_env(path))
    _assert_refused(result, "limits.maxPixels")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("errors=2", "errors must be between 0 and 1"),
        ("errors=some", "errors must be a fraction"),
        ("golden=maybe", "golden takes only the value fail"),
        ("slow=1", "unknown key 'slow'"),
    ],
)
def test_bad_fault_injection_is_refused(value: str, expected: str, tmp_path: Path) -> None:
    """The test-only OCR_FAULT_INJECTION: a typo must stop the server, not silently inject nothing."""
    path = tmp_path / "ok.yaml"
    path.write_text("{}\n", encoding="utf-8")
    result = _run(gunicorn_command(free_port()), server_env(path, OCR_FAULT_INJECTION=value))
    _assert_refused(result, f"OCR_FAULT_INJECTION: {expected}")


def test_wsgi_import_refuses_bad_fault_injection(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("{}\n", encoding="utf-8")
    result = _run([sys.executable, "-c", "import ocr_server.wsgi"], server_env(path, OCR_FAULT_INJECTION="errors=x"))
    _assert_refused(result, "OCR_FAULT_INJECTION: errors must be a fraction")
