"""Training: optimiser and schedule, one epoch of steps, and the fit loop with its per-epoch callback."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from fcdd.config import OptimConfig, RunConfig
from fcdd.engine.batching import Batcher
from fcdd.engine.runtime import Runtime, autocast_context
from fcdd.methods.base import Scorer
from fcdd.progress import progress_bar


@dataclass(frozen=True)
class EpochReport:
    """What the fit loop reports after each epoch to its caller's callback."""

    epoch: int  # 1-based number of the epoch just finished
    epochs: int
    loss: float  # mean per-sample loss over the epoch
    loss_nominal: float  # mean over nominal samples (nan when none)
    loss_anomalous: float  # mean over anomalous samples (nan when none)
    lr: float  # learning rate used in this epoch
    seconds: float
    images_per_second: float
    test_auc: float | None = None  # set on evaluation epochs of runs without validation data
    val_auc: float | None = None  # set on evaluation epochs of runs with validation data
    val_pixel_auc: float | None = None  # ... whose validation anomalies all carry masks

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for history.json and Ray reports."""
        return dict(self.__dict__)


EpochCallback = Callable[[EpochReport], None]


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


def make_optimizer(params: Any, cfg: OptimConfig) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum 0.9, or Adam; weight decay is the L2 penalty of the paper."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: OptimConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-epoch schedule: lambda (lr·γ^epoch) or step decay by γ at each milestone."""
    if cfg.scheduler == "lambda":
        gamma = cfg.gamma
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: gamma**epoch)
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(cfg.milestones), gamma=cfg.gamma)


@dataclass
class TrainState:
    """Everything that changes during training; :meth:`state_dict` makes a resumable checkpoint."""

    net: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain containers only, so it loads with ``torch.load(weights_only=True)``."""
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "epoch": self.epoch,
            "history": self.history,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint written by :meth:`state_dict`."""
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"].cpu())
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])


def _chunks(size: int, micro_batch_size: int | None) -> list[slice]:
    step = size if not micro_batch_size else micro_batch_size
    return [slice(start, start + step) for start in range(0, size, step)]


def train_epoch(
    state: TrainState,
    batcher: Batcher,
    runtime: Runtime,
    *,
    scorer: Scorer,
    micro_batch_size: int | None = None,
    progress: Any = None,
) -> dict[str, float]:
    """One pass over the training data; returns loss statistics and the number of images seen.

    With ``micro_batch_size``, each batch's forward and backward run in chunks whose gradients add
    up to the whole batch's (the loss is a mean over samples), so activation memory is bounded by
    the chunk. BatchNorm then normalises each chunk with its own statistics.
    """
    net, optimizer = state.net, state.optimizer
    net.train()
    sums = torch.zeros(2, dtype=torch.float64, device=runtime.device)  # loss sums: nominal, anomalous
    counts = torch.zeros(2, dtype=torch.float64, device=runtime.device)
    for inputs, labels, gt_maps in batcher.epoch(state.generator):
        if runtime.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        parts = []
        for part in _chunks(len(inputs), micro_batch_size):
            with autocast_context(runtime):
                chunk = scorer.losses(net, inputs[part], labels[part], None if gt_maps is None else gt_maps[part])
            torch.autograd.backward(chunk.sum() / len(inputs))  # what Tensor.backward calls (that one is untyped)
            parts.append(chunk.detach())
        losses = torch.cat(parts)
        optimizer.step()
        # Accumulate on the device: no host sync per step.
        anomalous = labels.bool()
        detached = losses.detach().double()
        sums += torch.stack([detached[~anomalous].sum(), detached[anomalous].sum()])
        counts += torch.stack([(~anomalous).sum(), anomalous.sum()]).double()
        if progress is not None:
            progress.update(1)
    sums_l, counts_l = sums.tolist(), counts.tolist()
    total = sum(sums_l) / max(sum(counts_l), 1.0)
    if not math.isfinite(total):
        raise NonFiniteLossError(f"epoch {state.epoch + 1}: the training loss is {total}; lower --lr or check the data")
    return {
        "loss": total,
        "loss_nominal": sums_l[0] / counts_l[0] if counts_l[0] else float("nan"),
        "loss_anomalous": sums_l[1] / counts_l[1] if counts_l[1] else float("nan"),
        "images": sum(counts_l),
    }


def fit(
    state: TrainState,
    batcher: Batcher,
    runtime: Runtime,
    scorer: Scorer,
    config: RunConfig,
    *,
    on_epoch_end: EpochCallback | None = None,
    evaluate: Callable[[], dict[str, float]] | None = None,
    save_checkpoint: Callable[[TrainState], None] | None = None,
    show_progress: bool = False,
) -> TrainState:
    """Train from ``state.epoch`` up to ``config.optim.epochs``; after each epoch checkpoint, then report.

    ``evaluate`` runs every ``config.eval_every`` epochs (0: never); the AUCs it returns
    (``test_auc`` and/or ``val_auc``) ride in that epoch's report.
    """
    epochs, eval_every = config.optim.epochs, config.eval_every
    while state.epoch < epochs:
        lr = state.optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        with progress_bar(
            total=len(batcher), desc=f"epoch {state.epoch + 1}/{epochs}", leave=False, show=show_progress, unit="batch"
        ) as bar:
            stats = train_epoch(
                state, batcher, runtime, scorer=scorer, micro_batch_size=config.optim.micro_batch_size, progress=bar
            )
        state.scheduler.step()
        seconds = time.perf_counter() - started
        state.epoch += 1
        aucs: dict[str, float] = {}
        if evaluate is not None and eval_every and state.epoch % eval_every == 0:
            aucs = evaluate()
        report = EpochReport(
            epoch=state.epoch,
            epochs=epochs,
            loss=stats["loss"],
            loss_nominal=stats["loss_nominal"],
            loss_anomalous=stats["loss_anomalous"],
            lr=lr,
            seconds=seconds,
            images_per_second=stats["images"] / max(seconds, 1e-9),
            **aucs,
        )
        state.history.append(report.to_dict())
        if save_checkpoint is not None:
            save_checkpoint(state)
        if on_epoch_end is not None:
            on_epoch_end(report)
    return state
