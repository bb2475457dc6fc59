"""Language profiles: everything that differs between the English and the Chinese model.

A profile names the bundle (``model_name``), the network's size and input geometry (``model_kw``,
passed to ``CRNN``), the charset, the run folder and the committed resume checkpoint.  The data
stream and the validation sets differ in kind, so ``training.train`` asks the profile's own
modules for them (English: ``training.datasets``; Chinese: ``training.zh``).  ``en`` is the default
everywhere and behaves exactly as before profiles existed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocr_server.recognition.charset import Charset

REPO = Path(__file__).resolve().parents[1]


def _zh_charset() -> Charset:
    from .zh.charset import zh_charset

    return zh_charset()


@dataclass(frozen=True)
class Profile:
    name: str
    model_name: str
    model_kw: dict[str, Any]
    charset: Callable[[], Charset]
    run_dir: Path
    resume_file: Path
    # validation metrics whose mean chooses best.pt (lower is better)
    selection_keys: tuple[str, ...]
    description: str = ""
    # BCP 47 tag written to model.json ``language``: the server tags hOCR/ALTO and the page with it
    language: str = "en"
    defaults: dict[str, Any] = field(default_factory=dict)  # trainer options that differ from English

    @property
    def input_height(self) -> int:
        return int(self.model_kw.get("input_height", 32))

    @property
    def width_downsample(self) -> int:
        return int(self.model_kw.get("width_downsample", 4))


PROFILES: dict[str, Profile] = {
    "en": Profile(
        name="en",
        model_name="crnn-en",
        model_kw={"channels": (32, 64, 96, 96, 160, 160, 192), "hidden": 128},
        charset=Charset.default,
        run_dir=Path("runs/crnn"),
        resume_file=Path("models/resume/crnn-en-resume.pt"),
        selection_keys=("funsd-val/cer", "sroie-dev/cer_ci", "iiit5k/cer_ci"),
        description="English/Latin documents: printable ASCII and common symbols (115 characters)",
    ),
    "zh": Profile(
        name="zh",
        model_name="crnn-zh",
        # Chosen by measuring ONNX Runtime on 200 held-out Chinese lines against crnn-en-1.2.0 on sroie-dev
        # in the same process (CPU ms/line, 2 threads; README "Chinese model"): height 48 cost 5.9x English
        # (~10 ms/line), height 32 with 8 px a frame 2.6x (~4.4 ms/line, target <= 5), ONNX 14.7 MB.
        model_kw={
            "channels": (32, 64, 128, 128, 192, 192, 256),
            "hidden": 128,
            "input_height": 32,
            "width_downsample": 8,
        },
        charset=_zh_charset,
        run_dir=Path("runs/crnn-zh"),
        resume_file=Path("models/resume/crnn-zh-resume.pt"),
        selection_keys=("zh-val/cer_norm",),
        language="zh-Hans",
        description="simplified Chinese (GB 2312 levels 1+2) + ASCII + Chinese punctuation (6,943 characters)",
        # a longer warm-up for the 6,944-way classifier; the zh stream's own shares (training/zh/stream.py)
        defaults={
            "lr": 1e-3,
            "warmup": 1000,
            "total_steps": 60000,
            "office_share": 0.2,
            "blank_share": 0.01,
            "scene_share": 0.08,
            "screen_share": 0.1,
        },
    ),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None
