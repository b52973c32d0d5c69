"""Optimiser and schedules."""

import pytest
import torch

from fcdd.config import OptimConfig
from fcdd.training import make_optimizer, make_scheduler


def _lrs(cfg: OptimConfig, epochs: int) -> list[float]:
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt = make_optimizer(params, cfg)
    sched = make_scheduler(opt, cfg)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_lambda_schedule_decays_per_epoch():
    assert _lrs(OptimConfig(lr=1.0, gamma=0.5), 3) == pytest.approx([1.0, 0.5, 0.25])


def test_milestone_schedule():
    cfg = OptimConfig(lr=1.0, scheduler="milestones", milestones=(2, 3), gamma=0.1)
    assert _lrs(cfg, 4) == pytest.approx([1.0, 1.0, 0.1, 0.01])


def test_sgd_is_nesterov_with_l2():
    opt = make_optimizer([torch.nn.Parameter(torch.zeros(1))], OptimConfig(weight_decay=1e-4))
    group = opt.param_groups[0]
    assert isinstance(opt, torch.optim.SGD)
    assert (group["nesterov"], group["momentum"], group["weight_decay"]) == (True, 0.9, 1e-4)
    assert isinstance(
        make_optimizer([torch.nn.Parameter(torch.zeros(1))], OptimConfig(optimizer="adam")), torch.optim.Adam
    )
