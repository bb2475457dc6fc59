"""Helpers for the OCR server tests: sample images, a real gunicorn on a free loopback port.

Integration tests run the real server (gunicorn + the shipped model + the real line detector) as a
subprocess; they skip, saying why, when the model bundle or the shared data ($OCR_SHARED_DATA) is
absent, and fail instead under CI=true (tests/needs.py).  Unit tests
of the HTTP layer use Flask's test client with a tiny recognizer defined here (the server never
ships one).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
import yaml
from PIL import Image

from tests.needs import shared_dataset

REPO_ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = REPO_ROOT / "ocr_server" / "gunicorn.conf.py"
READY_TIMEOUT_S = 90.0


# --------------------------------------------------------------------------- images made here


def encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def text_page(width: int = 600, height: int = 400, lines: int = 6) -> np.ndarray:
    """A white gray page with dark text lines drawn by OpenCV (no external data needed)."""
    import cv2

    page = np.full((height, width), 255, dtype=np.uint8)
    for i in range(lines):
        y = 50 + i * (height - 80) // max(1, lines)
        cv2.putText(page, f"LINE {i} TOTAL 12.{i}0 RM", (30, y), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 0, 2, cv2.LINE_AA)
    return page


DEJAVU_SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def drawn_lines(
    texts: list[str],
    size: tuple[int, int],
    ground: tuple[int, int, int],
    ink: tuple[int, int, int],
    *,
    font_px: int = 22,
    origin: tuple[int, int] = (40, 40),
    pitch: int = 60,
) -> Image.Image:
    """``texts`` drawn one per line in DejaVu Sans on a plain ``ground`` (a slide, a dark-mode
    screen); skips the test when the font is absent."""
    from PIL import ImageDraw, ImageFont

    from tests.needs import missing

    if not DEJAVU_SANS.is_file():
        missing(f"{DEJAVU_SANS} is absent: `make setup-apt` installs fonts-dejavu-core")
    img = Image.new("RGB", size, ground)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(DEJAVU_SANS), font_px)
    for i, text in enumerate(texts):
        draw.text((origin[0], origin[1] + i * pitch), text, font=font, fill=ink)
    return img


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def raw_png(width: int, height: int, rows: int | None = None) -> bytes:
    """A hand-built 8-bit gray PNG: a valid header for any size, zero pixels streamed through zlib.
    ``raw_png(10000, 10000)`` is a real decompression bomb: ~100 KB that inflates to 100 MB."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    comp = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    body = b"".join(comp.compress(row) for _ in range(height if rows is None else rows)) + comp.flush()
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


# --------------------------------------------------------------------------- shared data


@dataclass(frozen=True)
class SroiePage:
    path: Path
    lines: list[dict]
    width: int
    height: int


def load_sroie_pages() -> list[SroiePage]:
    """sroie-dev's pages (validation only); skips, or fails under CI=true, when the set is absent."""
    folder = shared_dataset("sroie-dev")
    pages = []
    for raw in (folder / "pages.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(raw)
        pages.append(SroiePage(folder / d["image"], d["lines"], d["width"], d["height"]))
    return pages


def model_installed() -> bool:
    from ocr_server.config import load_config
    from ocr_server.recognition.registry import resolve_model

    cfg = load_config(environ={})
    try:
        resolve_model(cfg.model.name, cfg.model.version, cfg.model.models_dir)
    except LookupError:
        return False
    return True


# --------------------------------------------------------------------------- a real gunicorn


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(config_file: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR__") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"OCR_CONFIG": str(config_file), "PYTHONUNBUFFERED": "1", **extra})
    return env


def gunicorn_command(port: int, app: str = "ocr_server.wsgi:app", *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(GUNICORN_CONF),
        "--bind",
        f"127.0.0.1:{port}",
        *extra,
        app,
    ]


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log_file: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def worker_pid(self) -> int:
        """The one worker's pid (these tests run one worker)."""
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True, check=True
        ).stdout
        (pid,) = (int(p) for p in out.split())
        return pid

    def logs(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def json_logs(self) -> list[dict]:
        return [json.loads(line) for line in self.logs().splitlines() if line.startswith("{")]


def start_server(
    tmp: Path,
    config: dict,
    *,
    name: str = "server",
    app: str = "ocr_server.wsgi:app",
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    until_ready: bool = True,
) -> RunningServer:
    """Start gunicorn with ``config`` (camelCase dict) and wait until ``/ready`` answers 200.

    ``app``/``extra_args`` run another WSGI app (e.g. ``--pythonpath`` and a test app module).
    ``until_ready=False`` waits only until the model's load attempt has ended (``/api/v1/info``
    shows a golden-set verdict or a load error): for servers that are meant to stay unready."""
    tmp.mkdir(parents=True, exist_ok=True)
    config_file = tmp / f"{name}.yaml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log_file = tmp / f"{name}.log"
    with log_file.open("wb") as out:
        proc = subprocess.Popen(
            gunicorn_command(port, app, *extra_args),
            cwd=REPO_ROOT,
            env=server_env(config_file, **(env or {})),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RunningServer(f"http://127.0.0.1:{port}", proc, log_file)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{server.logs()[-3000:]}")
        try:
            if until_ready and requests.get(f"{server.url}/ready", timeout=2).status_code == 200:
                return server
            if not until_ready:
                info = requests.get(f"{server.url}/api/v1/info", timeout=2).json()
                if info.get("golden") is not None or info.get("load_error"):
                    return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"gunicorn not ready after {READY_TIMEOUT_S} s:\n{server.logs()[-3000:]}")


def stop_server(server: RunningServer, timeout: float = 30.0) -> int:
    """SIGTERM (graceful), then SIGKILL of the process group if it lingers; returns the exit code."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(10)
    return int(server.process.returncode)


# One worker and one OCR slot: lean on a shared 2-core machine, and the shedding test can
# saturate it deterministically.
SERVER_CONFIG: dict = {
    "server": {"workers": 1, "threads": 2, "logLevel": "info"},
    "limits": {"maxConcurrentRequests": 1, "maxImagesPerRequest": 8},
    "recognition": {"threads": 1},
}


def start_server_with(
    tmp: Path, name: str, *, models_dir: Path | None = None, faults: str | None = None, until_ready: bool = True
) -> RunningServer:
    """:data:`SERVER_CONFIG` served from another models folder and/or with ``OCR_FAULT_INJECTION``."""
    config = json.loads(json.dumps(SERVER_CONFIG))
    if models_dir is not None:
        config["model"] = {"modelsDir": str(models_dir)}
    env = {"OCR_FAULT_INJECTION": faults} if faults is not None else None
    return start_server(tmp, config, name=name, env=env, until_ready=until_ready)


def tamper_golden_texts(bundle: Path, into: Path) -> Path:
    """A models folder ``into`` holding a copy of ``bundle`` whose golden texts no longer match its
    images (each reversed and case-swapped: what a badly broken model would answer); the weights
    are linked, never copied or changed."""
    copy = into / bundle.name
    shutil.copytree(bundle, copy, ignore=shutil.ignore_patterns("model.onnx"))
    (copy / "model.onnx").symlink_to(bundle / "model.onnx")
    manifest = copy / "golden" / "golden.jsonl"
    rows = [json.loads(x) for x in manifest.read_text().splitlines()]
    for row in rows:
        row["text"] = row["text"][::-1].swapcase()
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return into


# --------------------------------------------------------------------------- the Flask test client


class TinyRecognizer:
    """Stands in for the CRNN in HTTP-layer unit tests: 'reads' one letter per 10 px of width.

    Thread-safe and deterministic; integration tests use the real model instead."""

    def __init__(self) -> None:
        from ocr_server.recognition.recognizer import ModelInfo

        self.info = ModelInfo("tiny", "0.0.0", 32, 2)

    def recognize(self, crops: list[np.ndarray]) -> list:
        from ocr_server.recognition.lines import to_gray
        from ocr_server.recognition.recognizer import LineResult

        return [LineResult("a" * max(1, to_gray(c).shape[1] // 10), 0.9) for c in crops]

    def warmup(self) -> None:
        pass


def make_app(config: dict | None = None, *, load: bool = True):  # type: ignore[no-untyped-def]
    from ocr_server.app import create_app
    from ocr_server.config import parse_config

    return create_app(
        parse_config(config or {}),
        load_model="sync" if load else "none",
        recognizer_loader=lambda *a, **k: TinyRecognizer(),
    )
