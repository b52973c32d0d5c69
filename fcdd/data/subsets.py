"""Taking parts of an ADData with every per-sample field kept in step (images, labels, masks, files, groups)."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from fcdd.data.base import ADData

_TRAIN_FIELDS = ("train_images", "train_masks")
_TEST_FIELDS = ("test_images", "test_labels", "test_classes", "test_masks", "test_mask_files", "test_groups")


def _take(value: Any, index: Tensor) -> Any:
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(value[i] for i in index.tolist())
    return value[index].contiguous()


def select_train(data: ADData, index: Tensor) -> ADData:
    """Keep the training samples at ``index`` (int64 positions)."""
    return dataclasses.replace(data, **{f: _take(getattr(data, f), index) for f in _TRAIN_FIELDS})


def select_test(data: ADData, index: Tensor) -> ADData:
    """Keep the test samples at ``index`` (int64 positions)."""
    return dataclasses.replace(data, **{f: _take(getattr(data, f), index) for f in _TEST_FIELDS})


def subsample(data: ADData, train_limit: int | None, test_limit: int | None, *, seed: int) -> ADData:
    """Shrink a dataset for dry runs: the first ``train_limit`` training images and a seeded
    random subset of ``test_limit`` test images that keeps both labels."""
    if train_limit is not None and train_limit < len(data.train_images):
        data = select_train(data, torch.arange(train_limit))
    if test_limit is not None and test_limit < len(data.test_images):
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(data.test_images), generator=generator)
        keep = order[:test_limit]
        for label in (0, 1):  # make sure each label is represented
            if not (data.test_labels[keep] == label).any():
                first = order[data.test_labels[order] == label][:1]
                keep = torch.cat([keep[: len(keep) - len(first)], first])
        data = select_test(data, keep.sort().values)
    return data


def validation_size(n_train: int, fraction: float) -> int:
    """Nominal training images held out for validation: ``fraction`` of them, at least one."""
    return max(1, round(fraction * n_train))
