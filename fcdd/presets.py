"""Presets: the original runners' defaults (reference §6.2), each a plain RunConfig."""

from __future__ import annotations

import difflib

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
    # run_mvtec: confetti-malformed nominal images, per-pixel loss, data x10 per epoch, batch 16 x 8.
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
            micro_batch_size=16,
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
    # run_custom uses ImageNet-22k OE by default; until that source exists the preset uses
    # confetti-malformed nominal images, which need no external data (pass --oe-folder for OE).
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

# The paper's per-class sample AUCs (reference §8.1/8.2) for reports to compare against.
PAPER_AUC: dict[str, tuple[float, ...]] = {
    "fmnist": (0.82, 0.98, 0.84, 0.92, 0.87, 0.90, 0.75, 0.99, 0.86, 0.94),
    "cifar10": (0.95, 0.96, 0.91, 0.90, 0.94, 0.93, 0.97, 0.96, 0.97, 0.96),
}


def get_preset(name: str) -> RunConfig:
    """Return the preset ``name``; unknown names list the presets that exist."""
    try:
        return PRESETS[name]
    except KeyError:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown preset {name!r}{hint}; choose one of {', '.join(sorted(PRESETS))}") from None
