"""The anomaly registries: synthetic noise modes, outlier-exposure sources and supervise modes.

A ``noise_mode`` names either a synthetic noise function (:data:`SYNTHETIC_NOISE`, drawn from a
formula: ``(n, (C, H, W), generator) -> float (n, C, H, W)``) or an outlier-exposure source
(:data:`OE_SOURCES`, real images: ``(config, data) -> OutlierExposure``). Adding a noise mode is
one function in :mod:`fcdd.anomalies.noise` and one line below; adding an OE source is one
function in :mod:`fcdd.anomalies.oe_modes` and one line below. Entries are ``"module:attribute"``
references, imported on first use (see :mod:`fcdd.registry`), so :mod:`fcdd.config` can check
names without importing torch.
"""

from __future__ import annotations

from fcdd.registry import Entry

_NOISE, _SOURCES = "fcdd.anomalies.noise", "fcdd.anomalies.oe_modes"

SYNTHETIC_NOISE: dict[str, Entry] = {
    "gaussian": f"{_NOISE}:gaussian",
    "uniform": f"{_NOISE}:uniform",
    "blob": f"{_NOISE}:blob",
    "mixed_blob": f"{_NOISE}:mixed_blob",
    "solid": f"{_NOISE}:solid",
    "confetti": f"{_NOISE}:confetti",
}

OE_SOURCES: dict[str, Entry] = {
    "folder": f"{_SOURCES}:folder",  # any folder of images (--oe-folder)
    "cifar100": f"{_SOURCES}:cifar100",  # CIFAR-100 train split under --data-dir
    "emnist": f"{_SOURCES}:emnist",  # EMNIST letters (--oe-folder or --data-dir)
    "imagenet": f"{_SOURCES}:imagenet",  # ImageNet-1k val split (--oe-folder: its root)
    "imagenet22k": f"{_SOURCES}:imagenet22k",  # an extracted ImageNet-22k (--oe-folder)
    "mvtec": f"{_SOURCES}:mvtec",  # real defects of the category, taken out of its test split
    "mvtec_gt": f"{_SOURCES}:mvtec_gt",  # the same, trained with their masks
}

# The sources that read `anomalies.oe_folder` (as their images or their dataset root).
OE_FOLDER_SOURCES = ("folder", "emnist", "imagenet", "imagenet22k")

# What each supervise mode does with a training batch (implemented once, by
# fcdd.anomalies.supervisor.OnlineSupervisor; fcdd.anomalies.offline makes its sets from it).
SUPERVISE_MODES: dict[str, str] = {
    "unsupervised": "nominal images only",
    "noise": "samples replaced by anomalies from the noise mode (synthetic noise or outlier exposure)",
    "malformed_normal": "nominal images with the noise added",
    "malformed_normal_gt": "malformed_normal, trained per pixel on the changed pixels",
    "other": "samples replaced by the dataset's real labelled training anomalies",
}


def noise_mode_names() -> tuple[str, ...]:
    """Every valid ``noise_mode``: the synthetic ones, then the outlier-exposure sources."""
    return (*SYNTHETIC_NOISE, *OE_SOURCES)
