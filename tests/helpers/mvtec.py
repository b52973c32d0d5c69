"""A tiny MVTec-AD tree in the real on-disk layout (RGB PNGs, mode-L masks), for the MVTec tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 32, 48
# The defect square of every defect image (and its mask): rows 16..31, columns 8..23.
SQUARE = (slice(16, 32), slice(8, 24))
DEFECTS = {"crack": 3, "stain": 2}
TRAIN_GOOD, TEST_GOOD = 4, 2


def _noise(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 60, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)


def write_category(root: Path, name: str, seed: int) -> Path:
    """One category: good train/test images of dark noise; defect images with a bright square and its mask."""
    rng = np.random.default_rng(seed)
    folder = root / name
    for split, count in (("train", TRAIN_GOOD), ("test", TEST_GOOD)):
        (folder / split / "good").mkdir(parents=True)
        for i in range(count):
            Image.fromarray(_noise(rng)).save(folder / split / "good" / f"{i:03d}.png")
    for defect, count in DEFECTS.items():
        (folder / "test" / defect).mkdir(parents=True)
        (folder / "ground_truth" / defect).mkdir(parents=True)
        for i in range(count):
            image = _noise(rng)
            image[SQUARE] = 220
            mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
            mask[SQUARE] = 255
            Image.fromarray(image).save(folder / "test" / defect / f"{i:03d}.png")
            Image.fromarray(mask).save(folder / "ground_truth" / defect / f"{i:03d}_mask.png")
    return folder


def write_tree(root: Path) -> Path:
    """Two categories, ``widget`` (no stored constants) and ``zipper`` (MVTec-AD's class 14), plus a stray file."""
    root.mkdir(parents=True, exist_ok=True)
    write_category(root, "widget", 0)
    write_category(root, "zipper", 1)
    (root / "license.txt").write_text("not a category\n")
    return root
