"""A tiny ImageNet-30 tree in the real on-disk layout (`train/<wnid>/`, `val/<wnid>/` of JPEGs), a colour a class."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from fcdd.data.imagenet_classes import IMAGENET30_WNIDS

TRAIN_PER_CLASS, VAL_PER_CLASS = 3, 2


def colour(c: int) -> tuple[int, int, int]:
    """A distinct solid colour per class (JPEG keeps solid colours within a few levels)."""
    return (8 * c, 255 - 8 * c, (97 * c) % 256)


def write_tree(root: Path, wnids: tuple[str, ...] = IMAGENET30_WNIDS) -> Path:
    """``TRAIN_PER_CLASS`` train and ``VAL_PER_CLASS`` val JPEGs of 40x30 pixels for every class in ``wnids``."""
    for split, n in (("train", TRAIN_PER_CLASS), ("val", VAL_PER_CLASS)):
        for c, wnid in enumerate(wnids):
            folder = root / split / wnid
            folder.mkdir(parents=True)
            for i in range(n):
                Image.new("RGB", (40, 30), colour(c)).save(folder / f"{wnid}_{i}.JPEG", quality=95)
    return root
