"""The CRNN network: a small VGG-style CNN, a 2-layer BiLSTM and a linear CTC head.

Sized for CPUs (about 1.7 M parameters): on 2 cores one training step at batch 64 costs ~1.5 s,
and a receipt line is recognised in a few milliseconds with ONNX Runtime.  Height 32 in, one
output frame per 4 input columns (the English defaults).

``input_height`` (a multiple of 16) and ``width_downsample`` (4 or 8) are parameters because a
language profile may need others: a Chinese glyph is about as wide as the line is high, so 8
columns per frame still leave several frames per character while halving the work of the
recurrent layers and of a classifier over ~7k classes.  The defaults build exactly the English
network (same modules, same ``state_dict`` keys).
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_HEIGHT = 32
WIDTH_DOWNSAMPLE = 4


def _conv(cin: int, cout: int, kernel: tuple[int, int] = (3, 3), pad: tuple[int, int] = (1, 1)) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, padding=pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class CRNN(nn.Module):
    """``(N, 1, H, W)`` in [-1, 1] -> ``(N, W/width_downsample, num_classes)`` logits (H = input_height)."""

    def __init__(
        self,
        num_classes: int,
        channels: tuple[int, ...] = (32, 64, 128, 128, 192, 192, 256),
        hidden: int = 128,
        dropout: float = 0.1,
        input_height: int = INPUT_HEIGHT,
        width_downsample: int = WIDTH_DOWNSAMPLE,
    ) -> None:
        super().__init__()
        if input_height % 16 or input_height < 16:
            raise ValueError(f"input_height must be a multiple of 16, got {input_height}")
        if width_downsample not in (4, 8):
            raise ValueError(f"width_downsample must be 4 or 8, got {width_downsample}")
        self.input_height, self.width_downsample = input_height, width_downsample
        c = channels
        third = (2, 2) if width_downsample == 8 else (2, 1)  # a parameter-free swap: state_dict keys unchanged
        self.cnn = nn.Sequential(
            *_conv(1, c[0]),
            nn.MaxPool2d(2, 2),  # H/2 x W/2
            *_conv(c[0], c[1]),
            nn.MaxPool2d(2, 2),  # H/4 x W/4
            *_conv(c[1], c[2]),
            *_conv(c[2], c[3]),
            nn.MaxPool2d(third, third),  # H/8 x W/4 (or W/8)
            *_conv(c[3], c[4]),
            *_conv(c[4], c[5]),
            nn.MaxPool2d((2, 1), (2, 1)),  # H/16
            *_conv(c[5], c[6], kernel=(input_height // 16, 3), pad=(0, 1)),  # 1 x W/downsample
            nn.Dropout(dropout),
        )
        self.rnn = nn.LSTM(c[6], hidden, num_layers=2, bidirectional=True, batch_first=True, dropout=dropout)
        self.head = nn.Linear(2 * hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.cnn(x).squeeze(2).permute(0, 2, 1)  # N, T, C
        f, _ = self.rnn(f)
        return self.head(f)


class CRNNWithSoftmax(nn.Module):
    """Export wrapper: the served graph returns probabilities, so decoders need no softmax."""

    def __init__(self, model: CRNN) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x), dim=-1)
