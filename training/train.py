"""Train the CRNN with CTC on synthetic + sroie-train lines; checkpoints and resumes.

    python -m training.train --run runs/crnn --total-steps 20000      # starts or resumes
    python -m training.train --run runs/crnn --init models/resume/crnn-en-resume.pt \
        --restart-schedule --lr 1e-3 --total-steps 10000                # a new phase from the committed weights
    python -m training.train --profile zh                              # Chinese: runs/crnn-zh, resumes (make train-zh)

``--profile`` (``training/profiles.py``) picks the language: charset, network size and input
geometry, data stream, validation set, run folder.  ``en`` (default) is described below; ``zh``
trains on synthetic Chinese document lines only (``training/zh/stream.py``) and chooses ``best.pt``
by the width-normalised CER on 300 fixed held-out lines (held-out font families, held-out
sentences: ``training/zh/evalset.py``).

Progress is printed every ``--log-every`` steps; a checkpoint (model, optimiser, scheduler, step)
is written every ``--ckpt-every`` steps and on SIGTERM/SIGINT, so a session that ends loses at
most a few minutes.  A quick validation (greedy CER on a fixed sample of sroie-dev and iiit5k) runs
every ``--val-every`` steps on fixed samples of funsd-val (real mixed-case forms, scored
case-sensitively), sroie-dev and iiit5k (case-folded); the best checkpoint by the mean of those three
(``selection_score``) is kept as ``best.pt``, so the shipped weights are chosen on validation, not
simply the last ones.  With ``--ema DECAY`` an exponential moving average of the weights
(``training/ema.py``) is kept beside them, checkpointed, validated too, and ``best.pt`` holds
whichever network scored best (its ``weights`` field says which: ``raw`` or ``ema``).
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
from .ema import WeightAverage
from .fonts import split_fonts
from .model import CRNN, INPUT_HEIGHT, WIDTH_DOWNSAMPLE
from .profiles import PROFILES, Profile, get_profile
from .text_sources import corpus_lines

MODEL_KW = PROFILES["en"].model_kw


def fold_case(log_probs: torch.Tensor, mask: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """For samples in ``mask`` put log(P(upper) + P(lower)) in each upper-case slot (T, N, C)."""
    if not bool(mask.any()):
        return log_probs
    folded = log_probs.clone()
    folded[..., pairs[:, 0]] = torch.logaddexp(log_probs[..., pairs[:, 0]], log_probs[..., pairs[:, 1]])
    return torch.where(mask[None, :, None], folded, log_probs)


def build_model(charset: Charset, model_kw: dict | None = None) -> CRNN:
    return CRNN(charset.num_classes, **(MODEL_KW if model_kw is None else model_kw))


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
def predict(
    model: nn.Module,
    charset: Charset,
    images: list[np.ndarray],
    batch: int = 64,
    height: int = INPUT_HEIGHT,
    downsample: int = WIDTH_DOWNSAMPLE,
) -> list[str]:
    model.eval()
    prepared = [prepare_line(im, height) for im in images]
    order = sorted(range(len(prepared)), key=lambda i: prepared[i].shape[1])
    out = [""] * len(prepared)
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        probs = torch.softmax(model(torch.from_numpy(pad_batch([prepared[i] for i in idx]))), -1).numpy()
        for j, i in enumerate(idx):
            frames = -(-prepared[i].shape[1] // downsample)
            out[i] = greedy_decode(probs[j, :frames], charset)[0]
    model.train()
    return out


def evaluate(
    model: nn.Module,
    charset: Charset,
    val: dict[str, list[tuple[np.ndarray, str]]],
    profile: Profile = PROFILES["en"],
) -> dict[str, float]:
    """Greedy CER per validation set: strict and case-folded (en: ``cer``, ``cer_ci``) or strict and
    width-normalised (zh: ``cer``, ``cer_norm``, see ``training/zh/scoring.py``)."""
    res = {}
    for name, items in val.items():
        preds = predict(
            model, charset, [im for im, _ in items], height=profile.input_height, downsample=profile.width_downsample
        )
        pairs = list(zip(preds, [t for _, t in items], strict=True))
        res[f"{name}/cer"] = round(cer(pairs), 4)
        if profile.name == "zh":
            from .zh.scoring import cer_normalised

            res[f"{name}/cer_norm"] = round(cer_normalised(pairs), 4)
        else:
            res[f"{name}/cer_ci"] = round(cer(pairs, normalise=True), 4)
    return res


SELECTION_KEYS = PROFILES["en"].selection_keys


def selection_score(res: dict[str, float], keys: tuple[str, ...] = SELECTION_KEYS) -> float:
    """What ``best.pt`` is chosen by (en: the mean of case-sensitive CER on real mixed-case forms and the
    case-folded CER of receipts (upper-case truth) and scene words); sets that are missing are left out."""
    vals = [res[k] for k in keys if k in res]
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


REWARM_STEPS = 100


def rewarm_factor(step: int, resumed_at: int | None) -> float:
    """LR factor after resuming mid-schedule from a checkpoint without optimizer state.

    Why: committed resume files carry weights only (a third of the size), so AdamW starts with empty
    moments; its first updates are then about ``lr`` for every weight, whatever its gradient, which at
    a mid-schedule LR jolts a trained network.  A short linear ramp over ``REWARM_STEPS`` lets the
    moments fill first.  ``resumed_at`` None: the optimizer state was loaded (or the phase starts
    with its own warm-up), no ramp."""
    if resumed_at is None:
        return 1.0
    return min(1.0, (step - resumed_at + 1) / REWARM_STEPS)


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
    profile: Profile = PROFILES["en"],
    ema: WeightAverage | None = None,
    weights: str = "raw",
) -> None:
    """``model``'s weights (what export reads) and the training state; ``ema`` the running weight
    average to continue on resume; ``weights`` says which network ``model`` is (raw or ema)."""
    tmp = path.with_suffix(".tmp")
    state = {
        "model": model.state_dict(),
        "weights": weights,
        "optimizer": opt.state_dict(),
        "step": step,
        "schedule_from": schedule_from,
        "best": best,
        "model_kw": profile.model_kw,
        "profile": profile.name,
        "args": vars(args),
    }
    if ema is not None:
        state["ema"] = ema.state_dict()
    torch.save(state, tmp)
    tmp.replace(path)


def check_compatible(ck: dict, profile: Profile, src: Path) -> None:
    """Refuse a checkpoint of another profile or network shape (an English resume file given to
    the Chinese run, say) with a message instead of a shape error deep in ``load_state_dict``."""
    ck_profile = ck.get("profile", "en")
    if ck_profile != profile.name:
        raise SystemExit(f"{src} is a checkpoint of profile {ck_profile!r}, not {profile.name!r}")
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in ck.get("model_kw", MODEL_KW).items()}
    want = {k: tuple(v) if isinstance(v, list) else v for k, v in profile.model_kw.items()}
    if kw != want:
        raise SystemExit(f"{src} has network {kw}, profile {profile.name!r} builds {want}")


def cpu_has_fast_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU computes bfloat16 natively (AVX512-BF16 or AMX-BF16 in ``/proc/cpuinfo``).

    Why it matters: on an AVX2-only CPU (an AMD EPYC of this project's machines) bfloat16 autocast
    is emulated and a zh step took about 50 s instead of 3.5 s in float32."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
            break
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def training_data(
    profile: Profile, args: argparse.Namespace, charset: Charset, step: int
) -> tuple[torch.utils.data.IterableDataset, dict[str, list[tuple[np.ndarray, str]]], str]:
    """``(sample stream, validation sets, a line describing the data)`` of the profile."""
    if profile.name == "zh":
        from .zh.evalset import heldout_lines
        from .zh.fonts import split_faces
        from .zh.stream import ZhLineStream, ZhMix

        faces, _ = split_faces()
        mix = ZhMix(
            office_share=args.office_share,
            blank_share=args.blank_share,
            scene_share=args.scene_share,
            screen_share=args.screen_share,
            latin_font_share=args.latin_font_share,
        )
        latin_fonts = [f.path for f in split_fonts()[0]]  # the English training pool: its held-out fonts stay out
        stream = ZhLineStream(charset, faces, mix, args.seed + step, latin_fonts)
        val = {"zh-val": heldout_lines("val", args.val_lines)}
        families = sorted({f.family for f in faces})
        return stream, val, f"data: {len(faces)} faces of {len(families)} families ({', '.join(families)})"
    train_fonts, _ = split_fonts()
    real = cached_line_crops("sroie-train")
    forms = cached_line_crops("funsd-fit")
    corpus = corpus_lines(str(SHARED_DATA / "sroie-train" / "lines.jsonl"))
    mix = MixConfig(
        real_share=args.real_share,
        scene_share=args.scene_share,
        screen_share=args.screen_share,
        forms_share=args.forms_share,
        office_share=args.office_share,
        blank_share=args.blank_share,
    )
    stream = LineStream(charset, train_fonts, real, corpus, mix, args.seed + step, forms=forms)
    info = f"data: {len(train_fonts)} fonts, {len(real)} sroie-train lines, {len(forms)} funsd-fit lines"
    return stream, validation_set(), info


def main(argv: list[str] | None = None) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--profile", default="en", choices=sorted(PROFILES))
    profile = get_profile(pre.parse_known_args(argv)[0].profile)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="en", choices=sorted(PROFILES), help="language profile (training/profiles.py)")
    ap.add_argument("--run", type=Path, default=profile.run_dir)
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
    ap.add_argument(
        "--screen-share", type=float, default=0.1, help="share of synthetic samples drawn natively at UI sizes"
    )
    ap.add_argument("--forms-share", type=float, default=0.18, help="share of funsd-fit lines (real mixed case)")
    ap.add_argument(
        "--office-share", type=float, default=0.3, help="share of synthetic document lines degraded like office scans"
    )
    ap.add_argument("--blank-share", type=float, default=0.02, help="share of text-free crops labelled empty")
    ap.add_argument(
        "--latin-font-share",
        type=float,
        default=0.4,
        help="zh: share of lines with ASCII whose Latin runs are drawn in an English training font",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bfloat16 autocast for the forward pass (2x faster on CPUs with AVX512-BF16 or AMX, about 10x "
        "slower on CPUs without, where it is emulated; weights stay fp32). Default: on when the CPU has it",
    )
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--max-minutes", type=float, default=0, help="stop (with a checkpoint) after this long")
    ap.add_argument("--val-lines", type=int, default=300, help="zh: held-out validation lines best.pt is chosen on")
    ap.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="keep an exponential moving average of the weights with this decay (e.g. 0.999; 0: off), "
        "validated beside the raw weights; best.pt holds whichever scores better (training/ema.py)",
    )
    ap.set_defaults(**profile.defaults)
    args = ap.parse_args(argv)
    if args.bf16 is None:
        args.bf16 = cpu_has_fast_bf16()
        print(f"bfloat16 autocast {'on' if args.bf16 else 'off (the CPU lacks AVX512-BF16/AMX)'}", flush=True)

    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    charset = profile.charset()
    charset.to_file(args.run / "charset.txt")
    model = build_model(charset, profile.model_kw)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    step, best, schedule_from = 0, float("inf"), 0
    saved_ema: dict | None = None
    rewarm_from: int | None = None  # see rewarm_factor
    last = args.run / "last.pt"
    src = last if last.is_file() else args.init
    if src and src.is_file():
        ck = torch.load(src, map_location="cpu", weights_only=False)
        check_compatible(ck, profile, src)
        model.load_state_dict(ck["model"])
        if "optimizer" in ck:
            opt.load_state_dict(ck["optimizer"])
        new_phase = args.restart_schedule and src != last
        step, best, schedule_from = resume_point(ck, new_phase=new_phase)
        saved_ema = ck.get("ema") if not new_phase else None
        if "optimizer" not in ck and not new_phase:
            rewarm_from = step
        print(
            f"resumed from {src} at step {step} (best selection score {best:.4f}); "
            f"LR schedule from step {schedule_from} over {args.total_steps} steps",
            flush=True,
        )
    stop_at = args.steps or schedule_from + args.total_steps
    ema = WeightAverage(model, args.ema) if args.ema else None
    if ema is not None:
        kept = src is not None and src.is_file() and saved_ema is not None and ema.load_state_dict(saved_ema)
        print(f"weight average (decay {args.ema}) {'continued' if kept else 'started'} at step {step}", flush=True)
    print(
        f"profile {profile.name}: model {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, "
        f"{charset.num_classes} classes, input height {profile.input_height}, "
        f"{profile.width_downsample} px a frame",
        flush=True,
    )

    stream, val, info = training_data(profile, args, charset, step)
    print(info, flush=True)
    loader = DataLoader(
        BucketedBatches(stream, args.batch_size, height=profile.input_height, downsample=profile.width_downsample),
        batch_size=None,
        worker_init_fn=_ignore_stop_signals,
        num_workers=args.workers,
        prefetch_factor=2 if args.workers else None,
        persistent_workers=bool(args.workers),
    )
    ctc = nn.CTCLoss(blank=charset.blank, zero_infinity=True)
    pairs = torch.tensor(charset.case_pairs(), dtype=torch.long)

    stop = {"now": False}

    def _stop(signum: int, _frame: object) -> None:
        print(f"signal {signum}: checkpointing and stopping", flush=True)
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    def validate(label: str = "") -> None:
        """Score the model (and the weight average) on the validation sets, log it, and keep the
        better one as ``best.pt`` when it beats every earlier score."""
        nonlocal best
        candidates = [("raw", model)] + ([("ema", ema.module)] if ema is not None else [])
        for weights, net in candidates:
            res = evaluate(net, charset, val, profile)
            score = selection_score(res, profile.selection_keys)
            res["score"] = round(score, 4)
            tag = f"{label} (weight average)" if weights == "ema" else label
            print(f"val step {step}{tag}: {json.dumps(res)}", flush=True)
            if score < best:
                best = score
                save(args.run / "best.pt", net, opt, step, best, args, schedule_from, profile, weights=weights)
            with (args.run / "val.jsonl").open("a") as fh:
                fh.write(json.dumps({"step": step, "weights": weights, **res}) + "\n")

    started = time.time()
    t0, seen, loss_sum = time.time(), 0, 0.0
    model.train()
    for batch in loader:
        if step >= stop_at or stop["now"] or (args.max_minutes and time.time() - started > args.max_minutes * 60):
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step - schedule_from, args.lr, args.warmup, args.total_steps) * rewarm_factor(
                step, rewarm_from
            )
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            logits = model(batch["images"])  # N, T, C
        log_probs = fold_case(logits.float().log_softmax(-1).permute(1, 0, 2), batch["case_blind"], pairs)
        input_lengths = torch.clamp(batch["input_lengths"], max=log_probs.shape[0])
        loss = ctc(log_probs, batch["targets"], input_lengths, batch["target_lengths"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if ema is not None:
            ema.update(model)
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
            save(last, model, opt, step, best, args, schedule_from, profile, ema)
        if step % args.val_every == 0:
            validate()
    if step >= stop_at and step % args.val_every:
        validate(" (end of schedule)")  # a candidate too (1.2.0's last step beat the best validated one)
    save(last, model, opt, step, best, args, schedule_from, profile, ema)
    print(f"stopped at step {step}; checkpoint {last}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
