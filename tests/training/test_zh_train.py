"""The zh profile end to end in miniature: a batch's CTC loss is finite, ``training.train
--profile zh`` runs, checkpoints and resumes, the checkpoint exports to a bundle the server's
recognizer loads, and the English network is what it was before profiles."""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import numpy as np
import pytest

from tests.needs import missing

try:
    import torch
except ImportError:
    missing("torch is not installed: it is in the `train` extra, which `make setup` installs", module_level=True)

from ocr_server.recognition.charset import Charset
from training import train
from training.datasets import collate
from training.export import write_bundle
from training.model import CRNN
from training.profiles import PROFILES
from training.zh.charset import zh_charset
from training.zh.fonts import HELD_OUT_FAMILIES, discover_faces, split_faces
from training.zh.render import render_zh_line
from training.zh.stream import ZhLineStream, ZhMix

pytestmark = pytest.mark.model
ZH = PROFILES["zh"]


@pytest.fixture(scope="module", autouse=True)
def _fonts() -> None:
    if not discover_faces():
        missing("no Chinese fonts installed: `make setup-apt` (requirements/apt.txt)")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two steps of the real trainer at batch 4 with a weight average, then a resume to step 3
    (signal handlers restored)."""
    run = tmp_path_factory.mktemp("zh-run")
    saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    common = ["--profile", "zh", "--run", str(run), "--batch-size", "4", "--workers", "0", "--warmup", "1"]
    common += ["--val-lines", "4", "--log-every", "1", "--threads", "1", "--ema", "0.5"]
    try:
        assert train.main([*common, "--steps", "2"]) == 0
        assert torch.load(run / "last.pt", weights_only=False)["step"] == 2
        assert train.main([*common, "--steps", "3"]) == 0
    finally:
        signal.signal(signal.SIGTERM, saved[0])
        signal.signal(signal.SIGINT, saved[1])
    return run


def test_zh_batch_loss_is_finite() -> None:
    torch.manual_seed(0)
    charset = zh_charset()
    faces, _ = split_faces()
    stream = iter(ZhLineStream(charset, faces, ZhMix(), seed=3))
    samples = [next(stream) for _ in range(6)]
    batch = collate(samples, charset, ZH.input_height, ZH.width_downsample)
    assert batch["images"].shape[2] == ZH.input_height == 32
    model = CRNN(charset.num_classes, **ZH.model_kw)
    log_probs = model(batch["images"]).log_softmax(-1).permute(1, 0, 2)
    assert log_probs.shape[2] == charset.num_classes == 6944
    input_lengths = torch.clamp(batch["input_lengths"], max=log_probs.shape[0])  # as the trainer does
    loss = torch.nn.CTCLoss(zero_infinity=True)(log_probs, batch["targets"], input_lengths, batch["target_lengths"])
    assert torch.isfinite(loss) and float(loss) > 0
    loss.backward()


def test_trainer_checkpoints_and_resumes(smoke_run: Path) -> None:
    ck = torch.load(smoke_run / "last.pt", weights_only=False)
    assert ck["step"] == 3 and ck["profile"] == "zh" and ck["model_kw"] == ZH.model_kw
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())
    assert Charset.from_file(smoke_run / "charset.txt").chars == zh_charset().chars
    val = [json.loads(x) for x in (smoke_run / "val.jsonl").read_text().splitlines()]
    # each run's end of schedule is validated, the raw weights and their average
    assert [(v["step"], v["weights"]) for v in val] == [(2, "raw"), (2, "ema"), (3, "raw"), (3, "ema")]
    assert "zh-val/cer_norm" in val[-1] and val[-1]["score"] == val[-1]["zh-val/cer_norm"]
    best = torch.load(smoke_run / "best.pt", weights_only=False)
    winner = min(val, key=lambda v: v["score"])  # the better of the four kept, whichever weights
    assert (best["step"], best["weights"]) == (winner["step"], winner["weights"])
    # the average went on across the resume: three updates, not one
    assert ck["ema"]["decay"] == 0.5 and int(ck["ema"]["state"]["n_averaged"]) == 3


def test_trainer_refuses_another_profiles_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="profile 'en'"):
        train.check_compatible({"model_kw": train.MODEL_KW}, ZH, tmp_path / "en.pt")
    with pytest.raises(SystemExit, match="network"):
        train.check_compatible({"profile": "zh", "model_kw": {"hidden": 64}}, ZH, tmp_path / "x.pt")


def test_export_gives_a_bundle_the_server_loads(smoke_run: Path, tmp_path: Path) -> None:
    from ocr_server.recognition.recognizer import load_recognizer
    from training.zh.card import write_card

    out = write_bundle(smoke_run / "last.pt", "crnn-zh", "0.0.1", tmp_path / "models")
    meta = json.loads((out / "model.json").read_text())
    assert meta["name"] == "crnn-zh" and meta["profile"] == "zh" and meta["training_steps"] == 3
    assert meta["input_height"] == 32 and meta["width_downsample"] == 8 and meta["num_classes"] == 6944
    assert meta["onnx_torch_max_abs_diff"] < 1e-4
    assert (out / "model.onnx").stat().st_size < 30e6
    card = write_card(out).read_text()
    assert all(family in card for family in HELD_OUT_FAMILIES) and "6,763" in card

    rec = load_recognizer("crnn-zh", "0.0.1", str(tmp_path / "models"))
    assert rec.info.input_height == 32 and rec.downsample == 8
    line = render_zh_line("增值税专用发票 No.12345", split_faces()[1][0], random.Random(0))
    results = rec.recognize([line, np.full((40, 200), 255, np.uint8)])
    assert len(results) == 2 and all(c in rec.charset for c in results[0].text)


def test_english_network_is_unchanged() -> None:
    """The en profile builds the network the shipped resume checkpoint was trained as."""
    resume = Path(__file__).resolve().parents[2] / PROFILES["en"].resume_file
    if not resume.is_file():
        pytest.skip("no committed English resume checkpoint")
    model = train.build_model(Charset.default())
    model.load_state_dict(torch.load(resume, map_location="cpu", weights_only=False)["model"])
    assert model.input_height == 32 and model.width_downsample == 4
    assert model(torch.zeros(1, 1, 32, 64)).shape == (1, 16, Charset.default().num_classes)


def test_card_compares_with_rapidocr_on_the_same_lines() -> None:
    """The card's "at most RapidOCR's" row reads the bench's rows for the held-out sentences only."""
    from training.zh.card import peer_target
    from training.zh.evaluation import INVOICES, SENTENCES

    def bench(ours: float, peer: float) -> dict:
        rows = [
            {"engine": "ours", "set": SENTENCES, "cer_norm": ours},
            {"engine": "ours", "set": INVOICES, "cer_norm": 0.5},
        ]
        return {"rows": [*rows, {"engine": "rapidocr", "set": SENTENCES, "cer_norm": peer}]}

    assert peer_target(bench(0.020, 0.025)).endswith("| 2.00% | yes |")
    assert peer_target(bench(0.030, 0.025)).endswith("| 3.00% | **no** |")
    assert peer_target({"rows": [{"engine": "ours", "set": SENTENCES, "cer_norm": 0.02}]}) is None


def test_card_holds_the_stand_ins_to_one_and_a_half_times_rapidocr() -> None:
    """Screenshot and photo-like rows: met at <= 1.5x RapidOCR's normalised CER on the same lines."""
    from training.zh.card import proxy_targets
    from training.zh.evaluation import SCENE, SCREEN

    rows = [
        {"engine": "ours", "set": SCREEN, "cer_norm": 0.05},
        {"engine": "rapidocr", "set": SCREEN, "cer_norm": 0.04},
        {"engine": "ours", "set": SCENE, "cer_norm": 0.20},
        {"engine": "rapidocr", "set": SCENE, "cer_norm": 0.10},
    ]
    got = proxy_targets({"rows": rows})
    assert len(got) == 2
    assert got[0].endswith("| 5.00% | yes |") and "(6.00%)" in got[0]
    assert got[1].endswith("| 20.00% | **no** |") and "(15.00%)" in got[1]
    assert proxy_targets({"rows": rows[:1]}) == []


def test_quantized_export_is_smaller_and_still_loads(smoke_run: Path, tmp_path: Path) -> None:
    """``--quantize`` (what ``make export`` does for zh): int8 MatMul/LSTM weights, recorded in
    model.json, the file smaller than the float export, and the server reads with it."""
    from ocr_server.recognition.recognizer import load_recognizer

    plain = write_bundle(smoke_run / "last.pt", "crnn-zh", "0.0.1", tmp_path / "a")
    quant = write_bundle(smoke_run / "last.pt", "crnn-zh", "0.0.1", tmp_path / "b", quantize=True)
    meta = json.loads((quant / "model.json").read_text())
    assert meta["quantization"]["ops"] == ["MatMul", "LSTM"] and meta["quantization"]["max_abs_diff_vs_float"] < 0.5
    assert "quantization" not in json.loads((plain / "model.json").read_text())
    assert (quant / "model.onnx").stat().st_size < 0.7 * (plain / "model.onnx").stat().st_size
    assert not list(quant.glob("*.float.onnx"))
    rec = load_recognizer("crnn-zh", "0.0.1", str(tmp_path / "b"))
    line = render_zh_line("增值税专用发票 No.12345", split_faces()[1][0], random.Random(0))
    assert len(rec.recognize([line])) == 1
