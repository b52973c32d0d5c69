"""Presets: the original runners' defaults (reference §6.2), each a plain RunConfig.

Every field is the original runner's (``tests/fcdd/test_presets.py`` pins each one), except where
:data:`DEVIATIONS` names the difference, why, and the flags that restore the original; `fcdd
presets` and the README's "where this differs" list show the same entries.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from fcdd.config import AnomalyConfig, DataConfig, HeatmapConfig, NetworkConfig, OptimConfig, RunConfig
from fcdd.data.imagenet_classes import VOC_CLASS_WORDS

PRESETS: dict[str, RunConfig] = {
    # run_fmnist: FCDD_CNN28_W, OE from CIFAR-100, SGD 1e-2, lambda 0.98, 400 epochs.
    "fmnist": RunConfig(
        data=DataConfig(dataset="fmnist", preprocessing="lcnaug1"),
        anomalies=AnomalyConfig(supervise_mode="noise", noise_mode="cifar100"),
        network=NetworkConfig(name="FCDD_CNN28_W"),
        optim=OptimConfig(
            optimizer="sgd", lr=1e-2, weight_decay=1e-6, scheduler="lambda", gamma=0.98, batch_size=128, epochs=400
        ),
        heatmap=HeatmapConfig(gauss_std=1.2, quantile=0.85),
    ),
    # run_cifar10: batch 20 x 10 accumulated batches is one forward pass of 200 samples.
    "cifar10": RunConfig(
        data=DataConfig(dataset="cifar10", preprocessing="aug1"),
        anomalies=AnomalyConfig(supervise_mode="noise", noise_mode="cifar100"),
        network=NetworkConfig(name="FCDD_CNN32_LW3K"),
        optim=OptimConfig(
            optimizer="adam",
            lr=1e-3,
            weight_decay=1e-6,
            scheduler="milestones",
            gamma=0.1,
            milestones=(400, 500),
            batch_size=200,
            epochs=600,
        ),
        heatmap=HeatmapConfig(gauss_std=1.2, quantile=0.85),
    ),
    # run_mvtec: confetti-malformed nominal images, per-pixel loss, data x10 per epoch. The original's
    # batch is 16 x 8 loader batches concatenated into ONE forward/backward of 128 (not gradient
    # accumulation), so BatchNorm sees 128 samples: batch 128, no micro-batches.
    "mvtec": RunConfig(
        data=DataConfig(dataset="mvtec", preprocessing="lcnaug1", epoch_repeats=10),
        anomalies=AnomalyConfig(supervise_mode="malformed_normal", noise_mode="confetti"),
        network=NetworkConfig(name="FCDD_CNN224_VGG_F"),
        optim=OptimConfig(
            optimizer="sgd",
            lr=1e-3,
            weight_decay=1e-4,
            scheduler="lambda",
            gamma=0.985,
            batch_size=128,
            epochs=200,
        ),
        heatmap=HeatmapConfig(gauss_std=12.0, quantile=0.99),
    ),
    # run_imagenet: OE from an extracted ImageNet-22k folder (--oe-folder) without the 30 classes.
    "imagenet": RunConfig(
        data=DataConfig(dataset="imagenet", preprocessing="aug1"),
        anomalies=AnomalyConfig(supervise_mode="noise", noise_mode="imagenet22k"),
        network=NetworkConfig(name="FCDD_CNN224_VGG_NOPT"),
        optim=OptimConfig(
            optimizer="adam",
            lr=1e-3,
            weight_decay=1e-6,
            scheduler="milestones",
            gamma=0.1,
            milestones=(400, 500),
            batch_size=200,
            epochs=600,
        ),
        heatmap=HeatmapConfig(gauss_std=8.0, quantile=0.97),
    ),
    # run_pascalvoc (the Clever-Hans experiment): OE from ImageNet-1k val (--oe-folder: its root)
    # without classes named like a VOC class.
    "pascalvoc": RunConfig(
        data=DataConfig(dataset="pascalvoc", preprocessing="aug1"),
        anomalies=AnomalyConfig(
            supervise_mode="noise",
            noise_mode="imagenet",
            exclude_words=VOC_CLASS_WORDS,
        ),
        network=NetworkConfig(name="FCDD_CNN224_VGG_NOPT"),
        optim=OptimConfig(
            optimizer="adam",
            lr=1e-3,
            weight_decay=1e-6,
            scheduler="milestones",
            gamma=0.1,
            milestones=(400, 500),
            batch_size=200,
            epochs=600,
        ),
        heatmap=HeatmapConfig(gauss_std=8.0, quantile=0.99),
    ),
    # run_custom: as the original, except its outlier exposure (see DEVIATIONS).
    "custom": RunConfig(
        data=DataConfig(dataset="custom", preprocessing="aug1"),
        anomalies=AnomalyConfig(supervise_mode="malformed_normal", noise_mode="confetti"),
        network=NetworkConfig(name="FCDD_CNN224_VGG_F"),
        optim=OptimConfig(
            optimizer="sgd", lr=1e-3, weight_decay=1e-6, scheduler="lambda", gamma=0.985, batch_size=128, epochs=200
        ),
        heatmap=HeatmapConfig(gauss_std=10.0, quantile=0.97),
    ),
}


@dataclass(frozen=True)
class Deviation:
    """Where a preset differs from its original runner, why, and how to get the original back."""

    what: str
    why: str
    faithful: str  # the flags that restore the original runner's setting


DEVIATIONS: dict[str, tuple[Deviation, ...]] = {
    "custom": (
        Deviation(
            what="confetti-malformed nominal images (malformed_normal/confetti) instead of outlier exposure "
            "from ImageNet-22k (noise/imagenet22k)",
            why="ImageNet-22k (about 14M images, 1.3 TB) is rarely at hand; confetti needs no external data",
            faithful="--supervise-mode noise --noise-mode imagenet22k --oe-folder DIR (an extracted ImageNet-22k)",
        ),
    ),
}

# The original runners' repeats (`--it`, §6.2): the seeds a benchmark runs per class by default.
DEFAULT_SEEDS = 5


def get_preset(name: str) -> RunConfig:
    """Return the preset ``name``; unknown names list the presets that exist."""
    try:
        return PRESETS[name]
    except KeyError:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown preset {name!r}{hint}; choose one of {', '.join(sorted(PRESETS))}") from None
