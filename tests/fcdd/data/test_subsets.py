"""Parts of an ADData: every per-sample field kept in step; the dry run's subsample keeps both test labels."""

from __future__ import annotations

import dataclasses

import torch

from fcdd.data.subsets import select_test, select_train, subsample, validation_size
from tests.helpers.supervision import toy_data


def _numbered():
    """toy_data whose test images, masks, files and groups all carry the sample's position."""
    data = toy_data(masks=True)
    n = len(data.test_labels)
    return dataclasses.replace(
        data,
        test_images=torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 28, 28).contiguous(),
        test_masks=torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 28, 28).contiguous(),
        test_mask_files=tuple(f"mask{i}.png" for i in range(n)),
        test_groups=tuple(f"group{i}" for i in range(n)),
    )


def test_select_test_keeps_every_field_in_step() -> None:
    data = select_test(_numbered(), torch.tensor([4, 1]))
    assert data.test_images[:, 0, 0, 0].tolist() == [4, 1] and data.test_masks[:, 0, 0, 0].tolist() == [4, 1]
    assert data.test_labels.tolist() == [1, 0] and data.test_classes.tolist() == [1, 0]
    assert data.test_mask_files == ("mask4.png", "mask1.png") and data.test_groups == ("group4", "group1")
    assert torch.equal(data.train_images, toy_data(masks=True).train_images)  # the training side untouched


def test_select_train_and_its_masks() -> None:
    data = toy_data(masks=False)
    data = dataclasses.replace(data, train_masks=torch.zeros_like(data.train_images))
    kept = select_train(data, torch.tensor([2, 0]))
    assert torch.equal(kept.train_images, data.train_images[[2, 0]]) and kept.train_masks.shape[0] == 2
    assert torch.equal(kept.test_images, data.test_images)


def test_subsample_takes_the_first_training_images_and_a_seeded_test_subset_with_both_labels() -> None:
    data = _numbered()  # test labels 0, 0, 0, 1, 1, 1
    small = subsample(data, 5, 2, seed=0)
    assert torch.equal(small.train_images, data.train_images[:5])
    assert sorted(small.test_labels.tolist()) == [0, 1]
    one_anomaly = dataclasses.replace(data, test_labels=torch.tensor([0, 0, 0, 0, 0, 1]))
    for seed in range(10):  # most draws of 2 of 6 miss the one anomaly: it is swapped in
        assert sorted(subsample(one_anomaly, None, 2, seed=seed).test_labels.tolist()) == [0, 1]
    picked = small.test_images[:, 0, 0, 0].tolist()
    assert picked == sorted(picked) and small.test_mask_files == tuple(f"mask{i}.png" for i in picked)
    assert subsample(data, 5, 2, seed=0).test_mask_files == small.test_mask_files  # seeded
    assert subsample(data, None, None, seed=0) is data  # no limits: nothing taken


def test_validation_size_is_a_share_of_at_least_one() -> None:
    assert (validation_size(100, 0.25), validation_size(3, 0.1), validation_size(10, 0.05)) == (25, 1, 1)
