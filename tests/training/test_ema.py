"""The weight average: an exact exponential moving average that resumes, or restarts on a new decay."""

from __future__ import annotations

import pytest

from tests.needs import missing

try:
    import torch
except ImportError:
    missing("torch is not installed: it is in the `train` extra, which `make setup` installs", module_level=True)

from training.ema import WeightAverage


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))


def _nudge(net: torch.nn.Module, k: float) -> None:
    with torch.no_grad():
        for p in net.parameters():
            p.add_(k)


def test_average_is_the_exponential_moving_average_of_the_weights() -> None:
    net = _net()
    avg = WeightAverage(net, decay=0.9)
    first = net[0].weight.detach().clone()
    avg.update(net)  # the first update copies the weights
    assert torch.equal(avg.module[0].weight, first)
    expected = first.clone()
    for k in (1.0, 2.0, 3.0):
        _nudge(net, 1.0)
        avg.update(net)
        expected = 0.9 * expected + 0.1 * (first + k)
    assert torch.allclose(avg.module[0].weight, expected)
    assert not torch.allclose(avg.module[0].weight, net[0].weight)  # it lags the raw weights
    assert avg.steps == 4
    net.train()
    net(torch.randn(8, 3))  # the BatchNorm statistics move, and the average follows them
    avg.update(net)
    assert not torch.equal(avg.module[1].running_mean, torch.zeros(2))


def test_a_saved_average_continues_only_with_the_same_decay() -> None:
    net = _net()
    avg = WeightAverage(net, decay=0.99)
    for _ in range(3):
        _nudge(net, 0.5)
        avg.update(net)
    saved = avg.state_dict()
    again = WeightAverage(_net(), decay=0.99)
    assert again.load_state_dict(saved) and again.steps == 3
    assert torch.equal(again.module[0].weight, avg.module[0].weight)
    other = WeightAverage(_net(), decay=0.999)
    assert not other.load_state_dict(saved) and other.steps == 0


def test_decay_must_be_a_fraction() -> None:
    with pytest.raises(ValueError):
        WeightAverage(_net(), decay=1.0)
