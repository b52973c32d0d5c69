"""The pixel-metric floors against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from fcdd.engine.floors import ZScore


def test_zscore_by_hand():
    # channel 0 of the two nominal images: 0 and 10 (μ 5, σ 5); channel 1: 100 and 140 (μ 120, σ 20)
    train = torch.zeros(2, 2, 4, 4, dtype=torch.uint8)
    train[0, 0], train[1, 0], train[0, 1], train[1, 1] = 0, 10, 100, 140
    model = ZScore.fit(train, (4, 4))
    assert torch.allclose(model.mean[:, 0, 0], torch.tensor([5.0, 120.0]))
    assert torch.allclose(model.std[:, 0, 0], torch.tensor([5.0, 20.0]))
    test = torch.zeros(1, 2, 4, 4, dtype=torch.uint8)
    test[0, 0], test[0, 1] = 20, 160  # |20 − 5| / 5 = 3 and |160 − 120| / 20 = 2: mean over channels 2.5
    assert model.maps(test).shape == (1, 1, 4, 4)
    assert torch.allclose(model.maps(test), torch.full((1, 1, 4, 4), 2.5))


def test_zscore_std_has_a_one_grey_level_floor():
    constant = torch.full((3, 1, 2, 2), 7, dtype=torch.uint8)
    model = ZScore.fit(constant, (2, 2))
    assert torch.equal(model.std, torch.ones(1, 2, 2))
    assert model.maps(torch.full((1, 1, 2, 2), 9, dtype=torch.uint8)).flatten().tolist() == pytest.approx([2.0] * 4)
