"""Validation data carved from the training split, so searches never look at the test split.

Nominal validation images are held out of the nominal training images. Anomalous validation
images are real anomalies from the *training* split where the dataset has them (the other
classes' training images in one-vs-rest datasets; ``train/<class>/anomalous`` for custom
folders). Where it has none, the proxy is artificial anomalies made from held-out nominal images
by the run's own anomaly generator; :attr:`ValidationSet.anomaly_source` says which was used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from fcdd.anomalies.from_config import Supervision, validation_anomaly_maker
from fcdd.config import RunConfig
from fcdd.data.base import ADData
from fcdd.data.subsets import select_train, validation_size


@dataclass(frozen=True)
class ValidationSet:
    """Held-out images with labels (1 = anomalous)."""

    images: Tensor  # uint8 (V, C, H, W)
    labels: Tensor  # int64 (V,)
    anomaly_source: str  # "real: ..." or "proxy: ..."


def split_validation(
    data: ADData,
    fraction: float,
    *,
    seed: int,
    make_anomalies: Callable[[Tensor, torch.Generator], Tensor],
    proxy_name: str,
) -> tuple[ADData, ValidationSet]:
    """Hold out ``fraction`` of the nominal training images (at least one) plus as many anomalies.

    ``make_anomalies(nominal_float_0_255, generator)`` turns nominal images into anomalous ones;
    it is only used when the dataset has no real training anomalies.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"`fraction` must be in (0, 1), got {fraction!r}")
    n_train = len(data.train_images)
    n_val = validation_size(n_train, fraction)
    if n_val >= n_train:
        raise ValueError(f"validation_fraction={fraction} leaves no training images out of {n_train}; lower it")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n_train, generator=generator)
    nominal = data.train_images[order[:n_val]]
    real = data.train_anomalies
    if real is not None and len(real) > 0:
        picks = torch.randperm(len(real), generator=generator)[:n_val]
        anomalies = real[picks]
        source = f"real: {len(anomalies)} anomalous training images (other classes / labelled anomalies)"
    else:
        proxy = torch.randperm(n_val, generator=generator)
        anomalies = make_anomalies(nominal[proxy].float(), generator).round().clamp(0, 255).to(torch.uint8)
        source = f"proxy: {len(anomalies)} artificial anomalies ({proxy_name}) made from held-out nominal images"
    images = torch.cat([nominal, anomalies.cpu()])
    labels = torch.cat([torch.zeros(len(nominal), dtype=torch.long), torch.ones(len(anomalies), dtype=torch.long)])
    reduced = select_train(data, order[n_val:].sort().values)
    return reduced, ValidationSet(images=images, labels=labels, anomaly_source=source)


def hold_out_validation(config: RunConfig, supervision: Supervision) -> tuple[Supervision, ValidationSet]:
    """The run's validation split (``data.validation_fraction``) and the supervision left to train on."""
    maker, name = validation_anomaly_maker(config, supervision)
    data, validation = split_validation(
        supervision.data,
        config.data.validation_fraction,
        seed=config.seed,
        make_anomalies=lambda images, generator: maker(images, generator).images,
        proxy_name=name,
    )
    if data.train_label == 1:  # the held-out training images are the anomalous side here
        validation = dataclasses.replace(validation, labels=1 - validation.labels)
    return dataclasses.replace(supervision, data=data), validation
