"""From a RunConfig to what a run trains on besides its nominal images: the anomaly source and supervisor.

This is where the settings meet the data: which source a noise mode names (registry:
:mod:`fcdd.anomalies.registry`), whether the per-pixel loss is used (datasets with ground-truth
maps), real MVTec anomalies taken out of the test split, and which side of the loss a dataset's
own images are on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from fcdd.anomalies.noise import get_noise_mode
from fcdd.anomalies.oe_modes import get_oe_source
from fcdd.anomalies.outlier_exposure import OutlierPool
from fcdd.anomalies.registry import OE_SOURCES, SYNTHETIC_NOISE
from fcdd.anomalies.supervisor import OnlineSupervisor, SupervisedBatch, pool_from_train_anomalies
from fcdd.config import RunConfig
from fcdd.data.base import ADData


class FlippedLabels:
    """Gives a supervisor's batches the loss's labels of ``data`` whose own images are the anomalous side."""

    def __init__(self, supervisor: OnlineSupervisor, data: ADData) -> None:
        self.supervisor = supervisor
        self.data = data

    def __call__(self, images: Tensor, generator: torch.Generator) -> SupervisedBatch:
        batch = self.supervisor(images, generator)
        return replace(batch, labels=self.data.loss_labels(batch.labels))


Supervisor = OnlineSupervisor | FlippedLabels


@dataclass(frozen=True)
class Supervision:
    """What the run trains on, besides the nominal images."""

    data: ADData  # the data after real test anomalies were taken out (mvtec modes)
    supervisor: Supervisor  # callable(images, generator) -> SupervisedBatch
    source: Any  # the anomaly source (noise function or OutlierPool), None when unsupervised
    with_gt_maps: bool  # per-pixel loss on ground-truth maps
    removed_test_anomalies: int  # how many anomalous test images became training anomalies


def prepare_supervision(config: RunConfig, data: ADData, device: torch.device) -> Supervision:
    """The anomaly source of the config's noise mode and the online supervisor that mixes it in."""
    a = config.anomalies
    source: Any = None
    removed = 0
    if a.supervise_mode == "other":
        source = pool_from_train_anomalies(data).to(device)
    elif a.supervise_mode != "unsupervised":
        if a.noise_mode in SYNTHETIC_NOISE:
            source = get_noise_mode(a.noise_mode)
        else:
            exposure = get_oe_source(a.noise_mode)(config, data)
            data, source, removed = exposure.data, exposure.pool.to(device), exposure.removed_test_anomalies
    # Datasets with ground-truth maps train with the per-pixel loss, whatever the supervise mode,
    # as the original (its MVTec and mask-folder datasets always yield maps): artificial anomalies
    # get all-ones maps, real ones (mvtec_gt) their masks, nominal samples all zeros.
    with_gt_maps = data.test_masks is not None or a.supervise_mode == "malformed_normal_gt"
    online = OnlineSupervisor(a.supervise_mode, source, p=a.p, with_gt_maps=with_gt_maps)
    supervisor: Supervisor = online
    if data.own_images_anomalous:
        if a.supervise_mode not in ("noise", "other"):
            raise ValueError(
                f"{data.name}: the training images are the anomalous side, so the nominal side must come "
                f"from outlier exposure; use --supervise-mode noise, not {a.supervise_mode}"
            )
        supervisor = FlippedLabels(online, data)
    return Supervision(data, supervisor, source, with_gt_maps, removed)


def on_cpu(source: Any) -> Any:
    """The source with any pool moved to the CPU (offline sets and validation splits are made there)."""
    return source.to(torch.device("cpu")) if isinstance(source, OutlierPool) else source


def validation_anomaly_maker(config: RunConfig, supervision: Supervision) -> tuple[OnlineSupervisor, str, str]:
    """How the validation split makes anomalies when it does not use the dataset's real training anomalies.

    Returns the generator, its kind ("synthetic" or "outlier-exposure", the names of
    ``data.validation_anomalies``) and its name. "synthetic" is confetti-malformed held-out images;
    "outlier-exposure" the run's outlier-exposure images; "auto" the run's own anomaly generator.
    """
    a, choice = config.anomalies, config.data.validation_anomalies
    confetti = OnlineSupervisor("malformed_normal", get_noise_mode("confetti"), p=1.0)
    if choice == "synthetic" or supervision.source is None:  # unsupervised: nothing to imitate
        return confetti, "synthetic", "malformed_normal/confetti"
    kind = "outlier-exposure" if a.noise_mode in OE_SOURCES else "synthetic"
    if choice == "outlier-exposure":  # the outlier images themselves, whatever the supervise mode blends
        return OnlineSupervisor("noise", on_cpu(supervision.source), p=1.0), kind, f"noise/{a.noise_mode}"
    mode = "noise" if a.supervise_mode == "other" else a.supervise_mode
    return OnlineSupervisor(mode, on_cpu(supervision.source), p=1.0), kind, f"{a.supervise_mode}/{a.noise_mode}"
