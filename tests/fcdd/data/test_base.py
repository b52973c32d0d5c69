"""ADData: which side of the loss the dataset's own images are on."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.supervision import toy_data


def test_the_data_states_its_sides():
    # ADData.loss_labels turns the labels around; supervisor, offline set and validation split call it
    # (its one owner: tests/test_owners.py).
    data = toy_data(masks=False, train_label=1)
    assert data.own_images_anomalous and not toy_data(masks=False).own_images_anomalous
    added = torch.tensor([0, 1, 1, 0])
    assert data.loss_labels(added).tolist() == [1, 0, 0, 1]
    assert toy_data(masks=False).loss_labels(added).tolist() == [0, 1, 1, 0]
    with pytest.raises(ValueError, match="ADData.train_label must be 0 or 1, got 2"):
        toy_data(masks=False, train_label=2)
