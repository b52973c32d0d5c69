"""Shared fixtures: tiny datasets in their real on-disk formats, and one local Ray for every Ray test."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcdd.data.idx import write_idx


def make_class_images(labels: np.ndarray, rng: np.random.Generator, size: int = 28) -> np.ndarray:
    """Grey noise plus a bright block whose position depends on the class: learnable, tiny."""
    images = rng.integers(0, 60, size=(len(labels), size, size))
    for i, label in enumerate(labels):
        row, col = divmod(int(label), 4)
        images[i, 2 + row * 8 : 2 + row * 8 + 8, 2 + col * 6 : 2 + col * 6 + 8] = 220
    return images.astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_fmnist(tmp_path_factory) -> Path:
    """A Fashion-MNIST folder with 10 classes: 24 train and 8 test images per class."""
    root = tmp_path_factory.mktemp("fmnist")
    rng = np.random.default_rng(0)
    for split, per_class in (("train", 24), ("t10k", 8)):
        labels = np.repeat(np.arange(10), per_class).astype(np.uint8)
        rng.shuffle(labels)
        write_idx(root / f"{split}-images-idx3-ubyte.gz", make_class_images(labels, rng))
        write_idx(root / f"{split}-labels-idx1-ubyte.gz", labels)
    return root


@pytest.fixture(scope="session")
def tiny_oe_folder(tmp_path_factory) -> Path:
    """Twelve small RGB natural-ish images (PNG and JPEG) in nested folders."""
    root = tmp_path_factory.mktemp("oe")
    rng = np.random.default_rng(1)
    for i in range(12):
        folder = root / f"group{i % 3}"
        folder.mkdir(exist_ok=True)
        pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i}.{'png' if i % 2 else 'jpg'}")
    return root


# Starting Ray costs seconds: every Ray test shares this one instance.
@pytest.fixture(scope="session")
def ray_cluster():
    import ray

    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    ray.init(
        address="local", num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False, configure_logging=False
    )
    yield ray
    ray.shutdown()
