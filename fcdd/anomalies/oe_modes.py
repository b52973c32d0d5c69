"""The outlier-exposure noise modes: what each registered ``noise_mode`` of real images loads
(registry: :data:`fcdd.anomalies.registry.OE_SOURCES`).

The pools themselves are built in :mod:`fcdd.anomalies.outlier_exposure` (any folder,
CIFAR-100), :mod:`fcdd.anomalies.large_pools` (EMNIST, ImageNet-22k, ImageNet-1k val),
:mod:`fcdd.anomalies.streaming` and :mod:`fcdd.anomalies.real_anomalies`; this module picks one
per mode from the run's config.

Each source is an :class:`OESource`: ``load(config, data) -> OutlierExposure`` gives the pool of
real images to mix in and the data it leaves (the ``mvtec`` sources move real defects out of the
test split); ``check(config)``, where there is one, says before anything starts whether the
source's files are at hand. Pools are decoded once per process and shared by the runs that ask
for the same images, so the classes and seeds of a benchmark process decode a folder only once.
A plain function ``(config, data) -> OutlierExposure`` is a source too (one without a check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fcdd.anomalies.outlier_exposure import (
    CIFAR100_TRAIN,
    OutlierPool,
    folder_images,
    load_cifar100_pool,
    load_folder_pool,
    read_cifar100,
)
from fcdd.anomalies.streaming import StreamingPool
from fcdd.config import RunConfig
from fcdd.data.base import ADData


@dataclass(frozen=True)
class OutlierExposure:
    """What an outlier-exposure source supplies to a run."""

    pool: OutlierPool | StreamingPool  # the real images used as anomalies (masks where the source has them)
    data: ADData  # the run's data afterwards (real test anomalies taken out by the mvtec sources)
    removed_test_anomalies: int = 0  # how many anomalous test images became training anomalies


Load = Callable[[RunConfig, ADData], OutlierExposure]


@dataclass(frozen=True)
class OESource:
    """An outlier-exposure source: how to load it, and how to check that it can load."""

    load: Load
    check: Callable[[RunConfig], None] | None = None  # raises FileNotFoundError / ValueError naming the fix

    def __call__(self, config: RunConfig, data: ADData) -> OutlierExposure:
        return self.load(config, data)


def get_oe_source(name: str) -> OESource | Load:
    """The outlier-exposure source registered as ``name``: an :class:`OESource` or a plain load function."""
    from fcdd import registry
    from fcdd.anomalies.registry import OE_SOURCES

    source = registry.load(OE_SOURCES[name]) if name in OE_SOURCES else None
    if isinstance(source, OESource):
        return source
    load: Load = registry.lookup_function(OE_SOURCES, name, "outlier-exposure source")
    return load


def check_source(config: RunConfig) -> None:
    """Raise a one-line error when the outlier exposure of ``config`` cannot load (no check: nothing raised)."""
    from fcdd.anomalies.registry import OE_SOURCES

    if config.anomalies.supervise_mode in ("unsupervised", "other") or config.anomalies.noise_mode not in OE_SOURCES:
        return
    source = get_oe_source(config.anomalies.noise_mode)
    if isinstance(source, OESource) and source.check is not None:
        source.check(config)


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


def _folder(config: RunConfig, data: ADData) -> OutlierExposure:
    return _pool(config, data, load_folder_pool, _folder_of(config))


def _check_folder(config: RunConfig) -> None:
    folder_images(_folder_of(config))  # a missing or empty folder fails here, naming it


def _existing_folder(config: RunConfig) -> None:
    folder = Path(_folder_of(config))
    if not folder.is_dir():
        raise FileNotFoundError(
            f"--noise-mode {config.anomalies.noise_mode}: --oe-folder {folder} does not exist; "
            "pass the folder of its images"
        )


def cifar100_path(config: RunConfig) -> Path:
    """Where the CIFAR-100 train split of ``config`` is read from."""
    return Path(config.data.data_dir or ".") / CIFAR100_TRAIN


def _cifar100(config: RunConfig, data: ADData) -> OutlierExposure:
    return _pool(config, data, load_cifar100_pool, config.data.data_dir or ".", download=config.data.download)


def _check_cifar100(config: RunConfig) -> None:
    path = cifar100_path(config)
    if path.is_file():
        stat = path.stat()
        _read_cifar100_once(path.resolve(), stat.st_mtime_ns, stat.st_size)
    elif not config.data.download:
        raise FileNotFoundError(
            f"CIFAR-100 (the outlier exposure of --noise-mode cifar100) is not at {path}; pass --download "
            "(needs internet), a --data-dir holding cifar-100-python/, or --oe-folder DIR with natural images"
        )


@lru_cache(maxsize=2)
def _read_cifar100_once(path: Path, mtime_ns: int, size: int) -> None:
    # The whole pickle through the safe reader, once per file version: a tampered or truncated
    # file is refused here, before any trial starts (and before Ray workers would each read it).
    read_cifar100(path)


def _emnist_root(config: RunConfig) -> str:
    return config.anomalies.oe_folder or config.data.data_dir or "."


def _emnist(config: RunConfig, data: ADData) -> OutlierExposure:
    from fcdd.anomalies.large_pools import load_emnist_pool

    return _pool(config, data, load_emnist_pool, _emnist_root(config), download=config.data.download)


def _check_emnist(config: RunConfig) -> None:
    from fcdd.anomalies.large_pools import EMNIST_FILE, find_emnist

    if not config.data.download and find_emnist(_emnist_root(config)) is None:
        raise FileNotFoundError(
            f"EMNIST ({EMNIST_FILE}) is not under {_emnist_root(config)}; pass --download (needs internet) or "
            "--oe-folder DIR holding torchvision's EMNIST/raw/"
        )


def _imagenet22k(config: RunConfig, data: ADData) -> OutlierExposure:
    from fcdd.anomalies.large_pools import imagenet22k_files, load_imagenet22k_pool

    if config.anomalies.oe_limit is not None:  # a subset that fits: decoded once, in memory
        return _pool(config, data, load_imagenet22k_pool, _folder_of(config))
    # The whole folder, as the original: streamed, a fresh seeded draw of every file per pass.
    from fcdd.anomalies.streaming import StreamingPool
    from fcdd.data.images import decode_short_side

    files = imagenet22k_files(_folder_of(config))
    return OutlierExposure(StreamingPool(files, data.raw_shape, decode_short_side, seed=config.seed), data)


def _imagenet(config: RunConfig, data: ADData) -> OutlierExposure:
    from fcdd.anomalies.large_pools import load_imagenet1k_val_pool

    a = config.anomalies
    return _pool(
        config,
        data,
        load_imagenet1k_val_pool,
        _folder_of(config),
        exclude_words=a.exclude_words,
        download=config.data.download,
    )


# Any folder of images (searched recursively), resized straight to the dataset's raw size.
folder = OESource(_folder, _check_folder)
# The CIFAR-100 train split, read from <data_dir>/cifar-100-python/ (--download fetches it).
cifar100 = OESource(_cifar100, _check_cifar100)
# EMNIST letters, from --oe-folder or the data folder.
emnist = OESource(_emnist, _check_emnist)
# An extracted ImageNet-22k without the ImageNet-30 classes.
imagenet22k = OESource(_imagenet22k, _existing_folder)
# The ImageNet-1k val split, without the classes named by anomalies.exclude_words.
imagenet = OESource(_imagenet, _existing_folder)


def _real_test_anomalies(config: RunConfig, data: ADData, *, with_masks: bool) -> OutlierExposure:
    from fcdd.anomalies.real_anomalies import take_test_anomalies

    a = config.anomalies
    _check_real(config)
    reduced, pool, removed = take_test_anomalies(data, a.defects_per_type, config.seed)
    return OutlierExposure(pool if with_masks else OutlierPool(pool.images), reduced, removed)


def _check_real(config: RunConfig) -> None:
    if config.anomalies.oe_limit is not None:
        raise ValueError(
            f"--oe-limit sizes an outlier-exposure pool; --noise-mode {config.anomalies.noise_mode} takes real "
            "defects from the test split, as many per defect type as --defects-per-type says"
        )


# `defects_per_type` real defect images per defect type, moved out of the test split.
mvtec = OESource(lambda config, data: _real_test_anomalies(config, data, with_masks=False), _check_real)
# The same, with the defects' masks, so they train with the per-pixel loss on their true pixels.
mvtec_gt = OESource(lambda config, data: _real_test_anomalies(config, data, with_masks=True), _check_real)
