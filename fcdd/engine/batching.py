"""Training batches: shuffled, with anomalies mixed in and preprocessed on the training device.

The whole nominal training set sits on the training device as uint8; each step gathers a batch,
mixes in anomalies, augments and normalises it with tensor ops on that device. No DataLoader
workers, no per-sample Python: on two CPU cores that keeps the data path near free next to the
model step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

from fcdd.anomalies.from_config import Supervision, on_cpu
from fcdd.config import RunConfig

Batch = tuple[Tensor, Tensor, Tensor | None]  # inputs, labels (1 = anomalous), ground-truth maps or None


class Batcher:
    """Draws shuffled training batches, mixes in anomalies and preprocesses them on the device.

    Online (the default), the supervisor replaces samples with fresh anomalies in every batch.
    Offline, ``labels`` (and ``maps``) come with ``images``: a fixed set made once, and the
    supervisor is not used. ``repeats`` passes over the images make one epoch.
    """

    def __init__(
        self,
        images: Tensor,
        supervisor: Callable[..., Any] | None,
        preprocessing: Any,
        batch_size: int,
        *,
        repeats: int = 1,
        labels: Tensor | None = None,
        maps: Tensor | None = None,
    ) -> None:
        if supervisor is None and labels is None:
            raise ValueError("a Batcher needs a supervisor (online) or fixed labels (offline)")
        self.images = images
        self.supervisor = supervisor
        self.preprocessing = preprocessing
        self.batch_size = batch_size
        self.repeats = repeats
        self.labels = labels
        self.maps = maps

    def __len__(self) -> int:
        return math.ceil(len(self.images) * self.repeats / self.batch_size)

    def epoch(self, generator: torch.Generator) -> Iterator[Batch]:
        """Yield (inputs, labels, gt_maps or None) for one epoch in a random order."""
        n, device = len(self.images), generator.device
        order = torch.cat([torch.randperm(n, generator=generator, device=device) for _ in range(self.repeats)])
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            if len(index) == 1 and len(order) > 1:
                continue  # BatchNorm cannot train on one sample; it is drawn again next epoch
            raw = self.images[index].float()
            if self.labels is None:
                assert self.supervisor is not None  # __init__ guarantees one of the two
                mixed = self.supervisor(raw, generator)
                images, labels, gt_maps = mixed.images, mixed.labels, mixed.gt_maps
            else:
                images, labels = raw, self.labels[index]
                gt_maps = None if self.maps is None else self.maps[index].float()
            inputs, gt_maps = self.preprocessing.train(images, generator, gt_maps)
            yield inputs, labels, gt_maps


def make_batcher(config: RunConfig, supervision: Supervision, device: torch.device) -> Batcher:
    """Online: fresh anomalies every batch. Offline: one fixed set of N nominal + N anomalous images."""
    data, a = supervision.data, config.anomalies
    repeats = config.data.epoch_repeats
    if not a.offline:
        images = data.train_images.to(device)
        return Batcher(images, supervision.supervisor, data.preprocessing, config.optim.batch_size, repeats=repeats)
    from fcdd.anomalies.offline import make_offline_training_set

    fixed = make_offline_training_set(
        data.train_images,
        a.supervise_mode,
        on_cpu(supervision.source),
        generator=torch.Generator().manual_seed(config.seed),
        with_gt_maps=supervision.with_gt_maps,
    )
    labels = data.loss_labels(fixed.labels)
    maps = None if fixed.gt_maps is None else fixed.gt_maps.to(device)
    return Batcher(
        fixed.images.to(device),
        None,
        data.preprocessing,
        config.optim.batch_size,
        repeats=repeats,
        labels=labels.to(device),
        maps=maps,
    )
