"""Optimiser and schedules."""

import pytest
import torch

from fcdd.config import OptimConfig
from fcdd.engine.fit import make_optimizer, make_scheduler


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


def test_micro_batches_give_the_whole_batch_update():
    # Without BatchNorm, chunked backward passes must sum to exactly the whole batch's gradient.
    from fcdd.anomalies.supervisor import OnlineSupervisor
    from fcdd.data.preprocess import Preprocessing
    from fcdd.engine.batching import Batcher
    from fcdd.engine.fit import TrainState, train_epoch
    from fcdd.engine.runtime import Runtime
    from fcdd.methods.fcdd import FCDDScorer

    def state() -> TrainState:
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.LeakyReLU(), torch.nn.Conv2d(4, 1, 1))
        opt = make_optimizer(net.parameters(), OptimConfig(lr=0.1))
        return TrainState(net, opt, make_scheduler(opt, OptimConfig()), torch.Generator().manual_seed(1))

    images = torch.randint(0, 255, (12, 1, 8, 8), generator=torch.Generator().manual_seed(2), dtype=torch.uint8)
    pre = Preprocessing("none", (1, 8, 8), (0.0,), (255.0,))
    batcher = Batcher(images, OnlineSupervisor("unsupervised", None), pre, 12)
    whole, chunked = state(), state()
    a = train_epoch(whole, batcher, Runtime(torch.device("cpu")), scorer=FCDDScorer(1.0))
    b = train_epoch(chunked, batcher, Runtime(torch.device("cpu")), scorer=FCDDScorer(1.0), micro_batch_size=5)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-6)
    for p, q in zip(whole.net.parameters(), chunked.net.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)
