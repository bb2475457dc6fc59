"""A tiny training run lowers the CTC loss; ONNX export equals torch within tolerance."""

from __future__ import annotations

import json
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
from training.export import check_parity, write_bundle
from training.model import CRNN

pytestmark = pytest.mark.model


def _batch(charset: Charset, n: int = 24) -> tuple[torch.Tensor, list[str]]:
    """Deterministic toy lines: digit strings drawn as vertical bar codes the net can learn fast."""
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list("0123456789"), rng.integers(2, 5))) for _ in range(n)]
    imgs = np.ones((n, 1, 32, 96), np.float32)
    for i, t in enumerate(texts):
        for j, ch in enumerate(t):
            x = 8 + j * 20
            imgs[i, 0, 4 + int(ch) * 2 : 28, x : x + 8] = -1.0
    return torch.from_numpy(imgs), texts


def test_tiny_training_lowers_loss() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)  # deterministic reduction order
    charset = Charset.default()
    model = CRNN(charset.num_classes, channels=(8, 16, 16, 16, 32, 32, 32), hidden=32, dropout=0.0)
    images, texts = _batch(charset)
    targets = torch.tensor([i for t in texts for i in charset.encode(t)])
    target_lengths = torch.tensor([len(t) for t in texts])
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    pairs = torch.tensor(charset.case_pairs())
    losses = []
    for _ in range(40):
        lp = train.fold_case(
            model(images).log_softmax(-1).permute(1, 0, 2), torch.zeros(len(texts), dtype=torch.bool), pairs
        )
        loss = ctc(lp, targets, torch.full((len(texts),), lp.shape[0]), target_lengths)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5]), losses


def test_fold_case_merges_upper_and_lower_only_for_masked_samples() -> None:
    charset = Charset.default()
    pairs = torch.tensor(charset.case_pairs())
    up, low = charset.encode("A")[0], charset.encode("a")[0]
    lp = torch.log_softmax(torch.randn(5, 2, charset.num_classes), -1)
    out = train.fold_case(lp, torch.tensor([True, False]), pairs)
    assert torch.allclose(out[:, 0, up].exp(), lp[:, 0, up].exp() + lp[:, 0, low].exp())
    assert torch.equal(out[:, 1], lp[:, 1])


def test_lr_schedule_warms_up_then_decays() -> None:
    assert train.lr_at(0, 1.0, 10, 100) == pytest.approx(0.1)
    assert train.lr_at(10, 1.0, 10, 100) == pytest.approx(1.0)
    assert train.lr_at(100, 1.0, 10, 100) == pytest.approx(0.02)
    assert train.lr_at(1000, 1.0, 10, 100) == pytest.approx(0.02)


def test_bf16_only_where_the_cpu_has_it() -> None:
    """bfloat16 autocast is emulated (about 10x slower) on AVX2-only CPUs: on by default only with
    AVX512-BF16 or AMX-BF16 among the CPU flags."""
    from training.train import cpu_has_fast_bf16

    assert cpu_has_fast_bf16("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile\n")
    assert cpu_has_fast_bf16("flags\t\t: fpu avx2 amx_bf16 amx_tile\n")
    assert not cpu_has_fast_bf16("flags\t\t: fpu sse2 avx2 fma\n")
    assert not cpu_has_fast_bf16("")


def test_resuming_without_optimizer_state_ramps_the_lr_back() -> None:
    """Weights-only resume files: the LR climbs back over REWARM_STEPS while AdamW refills its moments;
    with the optimizer state loaded (None) it is the schedule's own LR at once."""
    from training.train import REWARM_STEPS, rewarm_factor

    assert rewarm_factor(5000, None) == 1.0
    assert rewarm_factor(5000, 5000) == pytest.approx(1 / REWARM_STEPS)
    assert rewarm_factor(5000 + REWARM_STEPS // 2 - 1, 5000) == pytest.approx(0.5)
    assert rewarm_factor(5000 + REWARM_STEPS, 5000) == 1.0


def test_resume_point_keeps_or_restarts_the_schedule() -> None:
    ck = {"step": 4100, "best": 0.03, "schedule_from": 0}
    assert train.resume_point(ck, new_phase=False) == (4100, 0.03, 0)
    assert train.resume_point(ck, new_phase=True) == (4100, float("inf"), 4100)
    assert train.resume_point({"step": 9000, "best": 0.02, "schedule_from": 4100}, new_phase=False)[2] == 4100
    assert train.resume_point({}, new_phase=False) == (0, float("inf"), 0)


def test_export_parity_and_bundle(tmp_path: Path) -> None:
    charset = Charset.default()
    model = CRNN(charset.num_classes, channels=(8, 16, 16, 16, 32, 32, 32), hidden=32).eval()
    ck = tmp_path / "ck.pt"
    torch.save(
        {"model": model.state_dict(), "model_kw": {"channels": (8, 16, 16, 16, 32, 32, 32), "hidden": 32}, "step": 7},
        ck,
    )
    out = write_bundle(ck, "tiny", "0.0.1", tmp_path / "models")
    meta = json.loads((out / "model.json").read_text())
    assert meta["name"] == "tiny" and meta["training_steps"] == 7
    assert meta["onnx_torch_max_abs_diff"] < 1e-4
    assert check_parity(model, out / "model.onnx") < 1e-4

    from ocr_server.recognition.recognizer import load_recognizer

    rec = load_recognizer("tiny", "0.0.1", str(tmp_path / "models"))
    results = rec.recognize([np.full((30, 120), 255, np.uint8), np.zeros((50, 20, 3), np.uint8)])
    assert len(results) == 2 and all(0.0 <= r.confidence <= 1.0 for r in results)

    # every exported bundle gets its golden set, and the server's gate accepts the model it was made with
    from ocr_server.recognition.golden import check_bundle
    from training.golden import ENGLISH_LINES, golden_bound

    golden = meta["golden"]
    assert golden["lines"] == len(ENGLISH_LINES) and golden["max_cer"] == golden_bound(golden["cer"])
    assert (out / golden["file"]).is_file()
    assert check_bundle(rec, rec.bundle).status == "passed"
