"""An exponential moving average of the network's weights, validated beside the raw weights.

Why: late in a phase the validation scores of successive checkpoints scatter by about half a point
(iiit5k 5.7-6.5 % between steps 37,000 and 41,000 of the English seventh phase) while the loss
barely moves: each checkpoint is one noisy sample of where AdamW is wandering.  The average of the
last thousand or so steps sits in the middle of that wander, which usually reads better than any
one sample of it (Polyak averaging; what timm's ``ModelEmaV2`` and YOLO's ``ModelEMA`` keep).  The
trainer validates both and keeps whichever scores better as ``best.pt``, so the average is used only
when it earns it.

Built on ``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn``; the BatchNorm running
statistics are averaged too (``use_buffers``), so the averaged network needs no extra pass over data.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class WeightAverage:
    """``decay``-weighted average of ``model``'s parameters and buffers, updated after each step."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
        self.averaged.eval()

    @property
    def module(self) -> nn.Module:
        """The averaged network (same class as the trained one: ``predict`` and ``save`` take it)."""
        return self.averaged.module

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.averaged.update_parameters(model)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "state": self.averaged.state_dict()}

    def load_state_dict(self, saved: dict[str, Any]) -> bool:
        """Continue a saved average; ``False`` (and the average restarts from the current weights)
        when it was kept with another decay, so a changed ``--ema`` never mixes two averages."""
        if saved.get("decay") != self.decay:
            return False
        self.averaged.load_state_dict(saved["state"])
        return True

    @property
    def steps(self) -> int:
        return int(self.averaged.n_averaged.item())
