"""The ``ocr-crnn`` command, run as a user runs it: the installed console script, in a subprocess.

Images are rendered here with PIL in DejaVu Sans (fonts-dejavu-core, requirements/apt.txt), so the
expected text is known exactly; the shipped model must read it back closely.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from PIL import Image, ImageDraw, ImageFont
from server_support import SERVER_CONFIG, free_port

from ocr_server.config import DEFAULT_MODEL_NAME, DEFAULT_MODEL_VERSION
from ocr_server.recognition.scoring import cer
from tests.needs import missing

SCRIPT = Path(sys.executable).parent / "ocr-crnn"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PAGE_LINES = ["Invoice 2041 paid in full", "TOTAL 12.50 EUR"]
WORD = "Receipt"
CER_BOUND = 0.1  # case-insensitive; clean rendered text reads at 0.0-0.04 with crnn-en-1.1.0


def clean_env() -> dict[str, str]:
    """This environment without the server's settings (OCR_CONFIG, OCR__*): defaults apply."""
    return {k: v for k, v in os.environ.items() if k != "OCR_CONFIG" and not k.startswith("OCR__")}


def run_cli(*args: str, stdin: bytes = b"", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    raw = subprocess.run([str(SCRIPT), *args], input=stdin, capture_output=True, env=clean_env(), timeout=timeout)
    return subprocess.CompletedProcess(raw.args, raw.returncode, raw.stdout.decode(), raw.stderr.decode())


@pytest.fixture(scope="module")
def font() -> ImageFont.FreeTypeFont:
    if not SCRIPT.is_file():
        pytest.fail(f"the ocr-crnn console script is not installed beside {sys.executable}: run `make setup`")
    if not DEJAVU.is_file():
        missing(f"{DEJAVU} is absent: `make setup-apt` installs fonts-dejavu-core")
    return ImageFont.truetype(str(DEJAVU), 30)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, font: ImageFont.FreeTypeFont) -> dict[str, Path]:
    """A two-line page (PNG), one word crop (JPEG), a text file named .png, a truncated PNG."""
    root = tmp_path_factory.mktemp("cli")
    page = Image.new("L", (760, 220), 255)
    draw = ImageDraw.Draw(page)
    for i, text in enumerate(PAGE_LINES):
        draw.text((36, 40 + 80 * i), text, font=font, fill=0)
    page.save(root / "page.png")
    word = Image.new("RGB", (180, 52), (250, 250, 240))
    ImageDraw.Draw(word).text((10, 6), WORD, font=font, fill=(20, 20, 60))
    word.save(root / "word.jpg", quality=92)
    (root / "notes.png").write_text("this is text, not an image\n")
    (root / "cut.png").write_bytes((root / "page.png").read_bytes()[:300])
    return {"page": root / "page.png", "word": root / "word.jpg", "text": root / "notes.png", "cut": root / "cut.png"}


def test_help_lists_commands_and_exit_codes() -> None:
    out = run_cli("--help")
    assert out.returncode == 0, out.stderr
    for needle in ("read", "serve", "models", "exit codes:", "1  some input files could not be read"):
        assert needle in out.stdout
    assert run_cli("read", "--help").returncode == 0


def test_reads_a_rendered_page(images: dict[str, Path]) -> None:
    out = run_cli("read", str(images["page"]))
    assert out.returncode == 0, out.stderr
    got = out.stdout.strip().splitlines()
    assert len(got) == len(PAGE_LINES), out.stdout
    assert cer(list(zip(got, PAGE_LINES, strict=True)), normalise=True) <= CER_BOUND, got


def test_json_is_one_object_per_file_like_the_api(images: dict[str, Path]) -> None:
    out = run_cli("read", "--format", "json", str(images["page"]), str(images["page"]))
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["file"] for r in rows] == [str(images["page"])] * 2
    first = rows[0]
    assert first["model"] == {"name": DEFAULT_MODEL_NAME, "version": DEFAULT_MODEL_VERSION}
    assert first["image"] == {"width": 760, "height": 220}
    assert [ln["text"] for ln in first["lines"]] == first["text"].splitlines()
    assert all(0 <= ln["box"][0] < ln["box"][2] <= 760 for ln in first["lines"])


def test_lines_mode_reads_a_word_crop_from_stdin(images: dict[str, Path]) -> None:
    out = run_cli("read", "--lines", "-f", "json", "-", stdin=images["word"].read_bytes())
    assert out.returncode == 0, out.stderr
    (row,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert row["file"] == "-"
    assert cer([(row["text"], WORD)], normalise=True) <= CER_BOUND, row


def test_bad_files_are_one_line_each_and_exit_1(images: dict[str, Path], tmp_path: Path) -> None:
    absent = tmp_path / "absent.png"
    bad = [str(images["text"]), str(absent), str(images["cut"]), str(tmp_path)]
    out = run_cli("read", str(images["page"]), *bad)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    errors = out.stderr.strip().splitlines()
    assert len(errors) == len(bad), out.stderr
    for name in bad:
        assert sum(line.startswith(f"ocr-crnn: {name}: ") for line in errors) == 1, (name, errors)
    assert f"==> {images['page']} <==" in out.stdout  # the good file was still read


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["read"], "the following arguments are required"),
        (["read", "--version", "0.0.9", "PAGE"], "crnn-en-0.0.9 not found"),
        (["read", "--format", "xml", "PAGE"], "invalid choice"),
        (["nonsense"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_without_traceback(images: dict[str, Path], args: list[str], message: str) -> None:
    out = run_cli(*[str(images["page"]) if a == "PAGE" else a for a in args])
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert out.stdout == ""


def test_models_lists_bundles_and_marks_the_default() -> None:
    out = run_cli("models")
    assert out.returncode == 0, out.stderr
    default = f"* {DEFAULT_MODEL_NAME}-{DEFAULT_MODEL_VERSION} "
    assert any(line.startswith(default) for line in out.stdout.splitlines()), out.stdout
    rows = json.loads(run_cli("models", "--format", "json").stdout)
    assert {(r["name"], r["version"]) for r in rows} >= {("crnn-en", "1.0.0"), ("crnn-en", "1.1.0")}
    assert [r["version"] for r in rows if r["default"]] == [DEFAULT_MODEL_VERSION]


@pytest.mark.slow
def test_serve_starts_gunicorn_like_make_run(tmp_path: Path) -> None:
    config = tmp_path / "server.yaml"
    config.write_text(yaml.safe_dump(SERVER_CONFIG))
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(SCRIPT), "serve", "--config", str(config), "--port", str(port)],
            cwd=tmp_path,  # not the repo: the installed command must find its own files
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        ready = False
        for _ in range(450):
            assert proc.poll() is None, log.read_text()
            with contextlib.suppress(requests.RequestException):
                ready = requests.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200
            if ready:
                break
            time.sleep(0.2)
        assert ready, log.read_text()[-2000:]
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and 'id="file" type="file"' in page.text
    finally:
        proc.terminate()
        assert proc.wait(30) == 0, log.read_text()[-2000:]


def test_serve_runs_the_make_run_command_with_overrides(tmp_path: Path) -> None:
    """`serve` = `python -m gunicorn -c ocr_server/gunicorn.conf.py ocr_server.wsgi:app`, options as env."""
    from ocr_server.cli import build_parser
    from ocr_server.cli.serve import GUNICORN_CONF, gunicorn_argv, serve_env

    args = build_parser().parse_args(["serve", "-c", "x.yaml", "-p", "9001", "-w", "3", "--", "--timeout", "5"])
    assert gunicorn_argv(args.gunicorn_args) == [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(GUNICORN_CONF),
        "ocr_server.wsgi:app",
        "--timeout",
        "5",
    ]
    assert GUNICORN_CONF.is_file()
    env = serve_env(args, {"OCR__SERVER__PORT": "1", "KEEP": "1"})
    assert env["OCR__SERVER__PORT"] == "9001" and env["OCR__SERVER__WORKERS"] == "3" and env["KEEP"] == "1"
    assert env["OCR_CONFIG"] == str(Path("x.yaml").resolve())
