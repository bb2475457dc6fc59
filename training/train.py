"""Train the CRNN with CTC on synthetic + sroie-train lines; checkpoints and resumes.

    python -m training.train --run runs/crnn --total-steps 20000      # starts or resumes
    python -m training.train --run runs/crnn --init models/resume/crnn-en-resume.pt \
        --restart-schedule --lr 1e-3 --total-steps 10000                # a new phase from the committed weights

Progress is printed every ``--log-every`` steps; a checkpoint (model, optimiser, scheduler, step)
is written every ``--ckpt-every`` steps and on SIGTERM/SIGINT, so a session that ends loses at
most a few minutes.  A quick validation (greedy CER on a fixed sample of sroie-dev and iiit5k) runs
every ``--val-every`` steps on fixed samples of funsd-val (real mixed-case forms, scored
case-sensitively), sroie-dev and iiit5k (case-folded); the best checkpoint by the mean of those three
(``selection_score``) is kept as ``best.pt``, so the shipped weights are chosen on validation, not
simply the last ones.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

# OpenMP threads that sleep at barriers instead of spinning: with 2 threads on 2 cores, one other busy
# process (a benchmark, a test run) made spinning threads wait out whole time slices, 0.7 -> 9 s a
# step; passive waiting kept 0.7-0.9 s.  Set before torch loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ocr_server.recognition.charset import Charset
from ocr_server.recognition.ctc import greedy_decode
from ocr_server.recognition.lines import pad_batch, prepare_line
from ocr_server.recognition.scoring import cer

from .datasets import SHARED_DATA, BucketedBatches, LineStream, MixConfig, cached_line_crops
from .fonts import split_fonts
from .model import CRNN, INPUT_HEIGHT, WIDTH_DOWNSAMPLE
from .text_sources import corpus_lines

MODEL_KW = {"channels": (32, 64, 96, 96, 160, 160, 192), "hidden": 128}


def fold_case(log_probs: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """For samples in ``mask`` put log(P(upper) + P(lower)) in each upper-case slot (T, N, C)."""
    if not bool(mask.any()):
        return log_probs
    folded = log_probs.clone()
    folded[..., pairs[:, 0]] = torch.logaddexp(log_probs[..., pairs[:, 0]], log_probs[..., pairs[:, 1]])
    return torch.where(mask[None, :, None], folded, log_probs)


def build_model(charset: Charset) -> CRNN:
    return CRNN(charset.num_classes, **MODEL_KW)


def validation_set(n: int = 400, seed: int = 0) -> dict[str, list[tuple[np.ndarray, str]]]:
    """Fixed samples of the validation-only sets (never trained on)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[tuple[np.ndarray, str]]] = {}
    dev = cached_line_crops("sroie-dev")
    out["sroie-dev"] = [dev[i] for i in rng.choice(len(dev), min(n, len(dev)), replace=False)]
    forms = cached_line_crops("funsd-val")
    if forms:
        out["funsd-val"] = [forms[i] for i in rng.choice(len(forms), min(n, len(forms)), replace=False)]
    manifest = SHARED_DATA / "iiit5k-train" / "manifest.jsonl"
    if manifest.is_file():
        rows = [json.loads(x) for x in manifest.read_text().splitlines()]
        rows = [rows[i] for i in rng.choice(len(rows), min(n, len(rows)), replace=False)]
        out["iiit5k"] = [(cv2.imread(str(manifest.parent / r["image"]), cv2.IMREAD_GRAYSCALE), r["text"]) for r in rows]
    return out


@torch.no_grad()
def predict(model: nn.Module, charset: Charset, images: list[np.ndarray], batch: int = 64) -> list[str]:
    model.eval()
    prepared = [prepare_line(im, INPUT_HEIGHT) for im in images]
    order = sorted(range(len(prepared)), key=lambda i: prepared[i].shape[1])
    out = [""] * len(prepared)
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        probs = torch.softmax(model(torch.from_numpy(pad_batch([prepared[i] for i in idx]))), -1).numpy()
        for j, i in enumerate(idx):
            frames = -(-prepared[i].shape[1] // WIDTH_DOWNSAMPLE)
            out[i] = greedy_decode(probs[j, :frames], charset)[0]
    model.train()
    return out


def evaluate(model: nn.Module, charset: Charset, val: dict[str, list[tuple[np.ndarray, str]]]) -> dict[str, float]:
    res = {}
    for name, items in val.items():
        preds = predict(model, charset, [im for im, _ in items])
        pairs = list(zip(preds, [t for _, t in items], strict=True))
        res[f"{name}/cer"] = round(cer(pairs), 4)
        res[f"{name}/cer_ci"] = round(cer(pairs, normalise=True), 4)
    return res


SELECTION_KEYS = ("funsd-val/cer", "sroie-dev/cer_ci", "iiit5k/cer_ci")


def selection_score(res: dict[str, float]) -> float:
    """What ``best.pt`` is chosen by: the mean of case-sensitive CER on real mixed-case forms and the
    case-folded CER of receipts (upper-case truth) and scene words; sets that are missing are left out."""
    vals = [res[k] for k in SELECTION_KEYS if k in res]
    return sum(vals) / len(vals) if vals else float("inf")


def resume_point(ck: dict, new_phase: bool) -> tuple[int, float, int]:
    """``(step, best score, step the LR schedule started at)`` to continue from checkpoint ``ck``.

    A resumed run keeps its schedule; a new phase (``--restart-schedule`` from ``--init``) starts a
    fresh warm-up + cosine at the loaded step and forgets the old best score, whose data mix differed.
    """
    step = int(ck.get("step", 0))
    if new_phase:
        return step, float("inf"), step
    return step, float(ck.get("best", float("inf"))), int(ck.get("schedule_from", 0))


def lr_at(step: int, base: float, warmup: int, total: int, floor: float = 0.02) -> float:
    """Linear warm-up, then cosine decay to ``floor * base`` at ``total`` steps (flat after)."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))


def _ignore_stop_signals(_worker_id: int) -> None:
    """Data workers leave SIGTERM/SIGINT to the main process, which checkpoints before stopping;
    a worker killed by a process-group signal would otherwise abort the loop without a save."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def save(
    path: Path,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    step: int,
    best: float,
    args: argparse.Namespace,
    schedule_from: int = 0,
) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "schedule_from": schedule_from,
            "best": best,
            "model_kw": MODEL_KW,
            "args": vars(args),
        },
        tmp,
    )
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", type=Path, default=Path("runs/crnn"))
    ap.add_argument("--init", type=Path, help="checkpoint to start from when the run has none")
    ap.add_argument("--steps", type=int, default=0, help="stop after this global step (0: where the LR schedule ends)")
    ap.add_argument("--total-steps", type=int, default=60000, help="length of the LR schedule")
    ap.add_argument(
        "--restart-schedule",
        action="store_true",
        help="when starting from --init: a fresh warm-up + cosine of --total-steps from the loaded step "
        "(a new training phase, e.g. after the data mix changed); resumed runs keep their schedule",
    )
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument(
        "--real-share", type=float, default=0.2, help="share of sroie-train lines (of what blanks and forms leave)"
    )
    ap.add_argument("--scene-share", type=float, default=0.35, help="share of synthetic samples in scene style")
    ap.add_argument("--forms-share", type=float, default=0.18, help="share of funsd-fit lines (real mixed case)")
    ap.add_argument(
        "--office-share", type=float, default=0.3, help="share of synthetic document lines degraded like office scans"
    )
    ap.add_argument("--blank-share", type=float, default=0.02, help="share of text-free crops labelled empty")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="bfloat16 autocast for the forward pass (2x faster on CPUs with AVX512-BF16; weights stay fp32)",
    )
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--max-minutes", type=float, default=0, help="stop (with a checkpoint) after this long")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    charset = Charset.default()
    charset.to_file(args.run / "charset.txt")
    model = build_model(charset)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    step, best, schedule_from = 0, float("inf"), 0
    last = args.run / "last.pt"
    src = last if last.is_file() else args.init
    if src and src.is_file():
        ck = torch.load(src, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        if "optimizer" in ck:
            opt.load_state_dict(ck["optimizer"])
        step, best, schedule_from = resume_point(ck, new_phase=args.restart_schedule and src != last)
        print(
            f"resumed from {src} at step {step} (best selection score {best:.4f}); "
            f"LR schedule from step {schedule_from} over {args.total_steps} steps",
            flush=True,
        )
    stop_at = args.steps or schedule_from + args.total_steps
    print(
        f"model: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, {charset.num_classes} classes",
        flush=True,
    )

    train_fonts, _ = split_fonts()
    real = cached_line_crops("sroie-train")
    forms = cached_line_crops("funsd-fit")
    corpus = corpus_lines(str(SHARED_DATA / "sroie-train" / "lines.jsonl"))
    print(f"data: {len(train_fonts)} fonts, {len(real)} sroie-train lines, {len(forms)} funsd-fit lines", flush=True)
    mix = MixConfig(
        real_share=args.real_share,
        scene_share=args.scene_share,
        forms_share=args.forms_share,
        office_share=args.office_share,
        blank_share=args.blank_share,
    )
    stream = LineStream(charset, train_fonts, real, corpus, mix, args.seed + step, forms=forms)
    loader = DataLoader(
        BucketedBatches(stream, args.batch_size),
        batch_size=None,
        worker_init_fn=_ignore_stop_signals,
        num_workers=args.workers,
        prefetch_factor=2 if args.workers else None,
        persistent_workers=bool(args.workers),
    )
    val = validation_set()
    ctc = nn.CTCLoss(blank=charset.blank, zero_infinity=True)
    pairs = torch.tensor(charset.case_pairs(), dtype=torch.long)

    stop = {"now": False}

    def _stop(signum: int, _frame: object) -> None:
        print(f"signal {signum}: checkpointing and stopping", flush=True)
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.time()
    t0, seen, loss_sum = time.time(), 0, 0.0
    model.train()
    for batch in loader:
        if step >= stop_at or stop["now"] or (args.max_minutes and time.time() - started > args.max_minutes * 60):
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step - schedule_from, args.lr, args.warmup, args.total_steps)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            logits = model(batch["images"])  # N, T, C
        log_probs = fold_case(logits.float().log_softmax(-1).permute(1, 0, 2), batch["case_blind"], pairs)
        input_lengths = torch.clamp(batch["input_lengths"], max=log_probs.shape[0])
        loss = ctc(log_probs, batch["targets"], input_lengths, batch["target_lengths"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        seen += len(batch["target_lengths"])
        loss_sum += float(loss.detach())
        if step % args.log_every == 0:
            dt = time.time() - t0
            print(
                f"step {step} loss {loss_sum / args.log_every:.4f} lr {opt.param_groups[0]['lr']:.2e} "
                f"{seen / dt:.1f} lines/s {dt / args.log_every:.2f} s/step",
                flush=True,
            )
            t0, seen, loss_sum = time.time(), 0, 0.0
        if step % args.ckpt_every == 0:
            save(last, model, opt, step, best, args, schedule_from)
        if step % args.val_every == 0:
            res = evaluate(model, charset, val)
            score = selection_score(res)
            res["score"] = round(score, 4)
            print(f"val step {step}: {json.dumps(res)}", flush=True)
            if score < best:
                best = score
                save(args.run / "best.pt", model, opt, step, best, args, schedule_from)
            with (args.run / "val.jsonl").open("a") as fh:
                fh.write(json.dumps({"step": step, **res}) + "\n")
    if step >= stop_at and step % args.val_every:
        # the schedule's end is a candidate too (1.2.0's last step beat the best validated one)
        res = evaluate(model, charset, val)
        score = selection_score(res)
        res["score"] = round(score, 4)
        print(f"val step {step} (end of schedule): {json.dumps(res)}", flush=True)
        if score < best:
            best = score
            save(args.run / "best.pt", model, opt, step, best, args, schedule_from)
        with (args.run / "val.jsonl").open("a") as fh:
            fh.write(json.dumps({"step": step, **res}) + "\n")
    save(last, model, opt, step, best, args, schedule_from)
    print(f"stopped at step {step}; checkpoint {last}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
