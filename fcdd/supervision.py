"""From a RunConfig to the training data stream: anomaly sources, online or offline supervision.

This is where the settings meet the data: which anomaly source a noise mode means, whether the
per-pixel loss is used (datasets with ground-truth maps), real MVTec anomalies taken out of the
test split, the fixed offline set, and which side of the loss a dataset's own images are on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from fcdd.anomalies import (
    OnlineSupervisor,
    OutlierPool,
    SupervisedBatch,
    get_noise_mode,
    load_cifar100_pool,
    load_folder_pool,
    pool_from_train_anomalies,
)
from fcdd.config import NEEDS_OE_FOLDER, SYNTHETIC_NOISE_MODES, RunConfig
from fcdd.data import ADData
from fcdd.training import Batcher

REAL_TEST_ANOMALY_MODES = ("mvtec", "mvtec_gt")


@dataclass(frozen=True)
class Supervision:
    """What the run trains on, besides the nominal images."""

    data: ADData  # the data after real test anomalies were taken out (mvtec modes)
    supervisor: Any  # callable(images, generator) -> SupervisedBatch
    source: Any  # the anomaly source (noise function or OutlierPool), None when unsupervised
    with_gt_maps: bool  # per-pixel loss on ground-truth maps
    removed_test_anomalies: int  # how many anomalous test images became training anomalies


class FlippedLabels:
    """Gives a supervisor's batches the opposite labels: the dataset's own images are the anomalous side."""

    def __init__(self, supervisor: Any) -> None:
        self.supervisor = supervisor

    def __call__(self, images: Tensor, generator: torch.Generator) -> SupervisedBatch:
        batch = self.supervisor(images, generator)
        return replace(batch, labels=1 - batch.labels)


def anomaly_source(config: RunConfig, data: ADData, device: torch.device, real_pool: OutlierPool | None = None) -> Any:
    """The anomaly source a config's noise mode names, on ``device``."""
    a = config.anomalies
    if a.supervise_mode == "other":
        return pool_from_train_anomalies(data).to(device)
    if a.noise_mode in SYNTHETIC_NOISE_MODES:
        return get_noise_mode(a.noise_mode)
    if a.noise_mode in REAL_TEST_ANOMALY_MODES:
        if real_pool is None:
            raise ValueError(f"--noise-mode {a.noise_mode} needs a dataset with defect types and masks (mvtec)")
        return real_pool.to(device)
    if a.noise_mode in NEEDS_OE_FOLDER and not a.oe_folder:
        raise ValueError(f"--noise-mode {a.noise_mode} needs --oe-folder DIR (the folder of its images)")
    # The seed only picks the subset of a limited pool: without a limit all seeds share one pool.
    return _cached_pool(
        a.noise_mode,
        a.oe_folder,
        config.data.data_dir,
        data.raw_shape,
        a.oe_limit,
        config.seed if a.oe_limit is not None else 0,
        config.data.download,
        a.exclude_words,
    ).to(device)


@lru_cache(maxsize=2)
def _cached_pool(
    mode: str,
    folder: str | None,
    data_dir: str | None,
    shape: tuple[int, int, int],
    limit: int | None,
    seed: int,
    download: bool,
    exclude_words: tuple[str, ...],
) -> OutlierPool:
    # Every class and seed of a benchmark process shares its OE pool: decode once.
    if mode == "folder":
        return load_folder_pool(str(folder), shape, limit=limit, seed=seed)
    if mode == "cifar100":
        return load_cifar100_pool(data_dir or ".", shape, limit=limit, seed=seed, download=download)
    from fcdd.anomalies.oe_sources import load_emnist_pool, load_imagenet1k_val_pool, load_imagenet22k_pool

    if mode == "emnist":
        return load_emnist_pool(folder or data_dir or ".", shape, limit=limit, seed=seed, download=download)
    if mode == "imagenet22k":
        return load_imagenet22k_pool(str(folder), shape, limit=limit, seed=seed)
    if mode == "imagenet":
        return load_imagenet1k_val_pool(
            str(folder), shape, limit=limit, seed=seed, exclude_words=exclude_words, download=download
        )
    raise ValueError(f"noise mode {mode!r} has no image source")


def prepare_supervision(config: RunConfig, data: ADData, device: torch.device) -> Supervision:
    """Take real test anomalies out where the mode asks for them, and build the online supervisor."""
    a = config.anomalies
    real_pool, removed = None, 0
    if a.supervise_mode != "unsupervised" and a.noise_mode in REAL_TEST_ANOMALY_MODES:
        from fcdd.anomalies.real_anomalies import take_test_anomalies

        data, real_pool, removed = take_test_anomalies(data, a.oe_limit or 1, config.seed)
    # Datasets with ground-truth maps train with the per-pixel loss: artificial anomalies get
    # all-ones maps, real ones (mvtec_gt) their masks; plain `mvtec` uses all-ones maps too.
    with_gt_maps = data.test_masks is not None or a.supervise_mode == "malformed_normal_gt"
    if a.noise_mode == "mvtec":
        real_pool = None if real_pool is None else OutlierPool(real_pool.images)
    if a.supervise_mode == "unsupervised":
        source, supervisor = None, OnlineSupervisor("unsupervised", None, p=a.p)
    else:
        source = anomaly_source(config, data, device, real_pool)
        supervisor = OnlineSupervisor(a.supervise_mode, source, p=a.p, with_gt_maps=with_gt_maps)
    if data.train_label == 1:
        if a.supervise_mode not in ("noise", "other"):
            raise ValueError(
                f"{data.name}: the training images are the anomalous side, so the nominal side must come "
                f"from outlier exposure; use --supervise-mode noise, not {a.supervise_mode}"
            )
        supervisor = FlippedLabels(supervisor)
    return Supervision(data, supervisor, source, with_gt_maps, removed)


def make_batcher(config: RunConfig, supervision: Supervision, device: torch.device) -> Batcher:
    """Online: fresh anomalies every batch. Offline: one fixed set of N nominal + N anomalous images."""
    data, a = supervision.data, config.anomalies
    images = data.train_images.to(device)
    kwargs: dict[str, Any] = {"repeats": config.data.epoch_repeats}
    if not a.offline:
        return Batcher(images, supervision.supervisor, data.preprocessing, config.optim.batch_size, **kwargs)
    from fcdd.anomalies.offline import make_offline_training_set

    source = _on_cpu(supervision.source)
    fixed = make_offline_training_set(
        data.train_images,
        a.supervise_mode,
        source,
        generator=torch.Generator().manual_seed(config.seed),
        with_gt_maps=supervision.with_gt_maps,
    )
    labels = fixed.labels if data.train_label == 0 else 1 - fixed.labels
    maps = None if fixed.gt_maps is None else fixed.gt_maps.to(device)
    return Batcher(
        fixed.images.to(device),
        None,
        data.preprocessing,
        config.optim.batch_size,
        labels=labels.to(device),
        maps=maps,
        **kwargs,
    )


def _on_cpu(source: Any) -> Any:
    return source.to(torch.device("cpu")) if isinstance(source, OutlierPool) else source


def validation_anomaly_maker(config: RunConfig, supervision: Supervision) -> tuple[Any, str]:
    """How the validation split makes anomalies when the dataset has no real training anomalies."""
    a = config.anomalies
    if supervision.source is None:  # unsupervised: nothing to imitate, confetti-malformed images as the proxy
        return OnlineSupervisor("malformed_normal", get_noise_mode("confetti"), p=1.0), "malformed_normal/confetti"
    source = _on_cpu(supervision.source)
    mode = "noise" if a.supervise_mode == "other" else a.supervise_mode
    return OnlineSupervisor(mode, source, p=1.0), f"{a.supervise_mode}/{a.noise_mode}"
