"""Outlier-exposure sources: one function per ``noise_mode`` of real images (registry:
:data:`fcdd.anomalies.registry.OE_SOURCES`).

Each source has the signature ``(config, data) -> OutlierExposure``: the pool of real images to
mix in, and the data it leaves (the ``mvtec`` sources move real defects out of the test split).
Pools are decoded once per process and shared by the runs that ask for the same images, so the
classes and seeds of a benchmark process decode a folder only once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fcdd.anomalies.outlier_exposure import OutlierPool, load_cifar100_pool, load_folder_pool
from fcdd.config import RunConfig
from fcdd.data.base import ADData


@dataclass(frozen=True)
class OutlierExposure:
    """What an outlier-exposure source supplies to a run."""

    pool: OutlierPool  # the real images used as anomalies (with masks where the source has them)
    data: ADData  # the run's data afterwards (real test anomalies taken out by the mvtec sources)
    removed_test_anomalies: int = 0  # how many anomalous test images became training anomalies


OESource = Callable[[RunConfig, ADData], OutlierExposure]


@lru_cache(maxsize=2)
def _cached(
    load: Callable[..., OutlierPool], args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...]
) -> OutlierPool:
    # Two pools at most: a benchmark process alternates between few sources, and pools are large.
    return load(*args, **dict(kwargs))


def _pool(
    config: RunConfig, data: ADData, load: Callable[..., OutlierPool], root: str, **extra: Any
) -> OutlierExposure:
    a = config.anomalies
    # The seed only picks the subset of a limited pool: without a limit all seeds share one pool.
    seed = config.seed if a.oe_limit is not None else 0
    kwargs = {"limit": a.oe_limit, "seed": seed, **extra}
    return OutlierExposure(_cached(load, (root, data.raw_shape), tuple(sorted(kwargs.items()))), data)


def _folder_of(config: RunConfig) -> str:
    a = config.anomalies
    if not a.oe_folder:
        raise ValueError(f"--noise-mode {a.noise_mode} needs --oe-folder DIR (the folder of its images)")
    return a.oe_folder


def folder(config: RunConfig, data: ADData) -> OutlierExposure:
    """Any folder of images (searched recursively), resized straight to the dataset's raw size."""
    return _pool(config, data, load_folder_pool, _folder_of(config))


def cifar100(config: RunConfig, data: ADData) -> OutlierExposure:
    """The CIFAR-100 train split, read from ``<data_dir>/cifar-100-python/`` (``--download`` fetches it)."""
    return _pool(config, data, load_cifar100_pool, config.data.data_dir or ".", download=config.data.download)


def emnist(config: RunConfig, data: ADData) -> OutlierExposure:
    """EMNIST letters, from ``--oe-folder`` or the data folder."""
    from fcdd.anomalies.oe_sources import load_emnist_pool

    root = config.anomalies.oe_folder or config.data.data_dir or "."
    return _pool(config, data, load_emnist_pool, root, download=config.data.download)


def imagenet22k(config: RunConfig, data: ADData) -> OutlierExposure:
    """An extracted ImageNet-22k without the ImageNet-30 classes."""
    from fcdd.anomalies.oe_sources import load_imagenet22k_pool

    return _pool(config, data, load_imagenet22k_pool, _folder_of(config))


def imagenet(config: RunConfig, data: ADData) -> OutlierExposure:
    """The ImageNet-1k val split, without the classes named by ``anomalies.exclude_words``."""
    from fcdd.anomalies.oe_sources import load_imagenet1k_val_pool

    a = config.anomalies
    return _pool(
        config,
        data,
        load_imagenet1k_val_pool,
        _folder_of(config),
        exclude_words=a.exclude_words,
        download=config.data.download,
    )


def _real_test_anomalies(config: RunConfig, data: ADData, *, with_masks: bool) -> OutlierExposure:
    from fcdd.anomalies.real_anomalies import take_test_anomalies

    a = config.anomalies
    if a.oe_limit is not None:
        raise ValueError(
            f"--oe-limit sizes an outlier-exposure pool; --noise-mode {a.noise_mode} takes real defects "
            "from the test split, as many per defect type as --defects-per-type says"
        )
    reduced, pool, removed = take_test_anomalies(data, a.defects_per_type, config.seed)
    return OutlierExposure(pool if with_masks else OutlierPool(pool.images), reduced, removed)


def mvtec(config: RunConfig, data: ADData) -> OutlierExposure:
    """``defects_per_type`` real defect images per defect type, moved out of the test split."""
    return _real_test_anomalies(config, data, with_masks=False)


def mvtec_gt(config: RunConfig, data: ADData) -> OutlierExposure:
    """As :func:`mvtec`, with the defects' masks, so they train with the per-pixel loss on their true pixels."""
    return _real_test_anomalies(config, data, with_masks=True)
