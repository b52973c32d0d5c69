"""The 28×28 FCDD nets layer by layer, as the original defines them (reference §3.1)."""

from __future__ import annotations

import torch

from fcdd.networks.cnn28 import FCDD_CNN28, FCDD_CNN28_W
from tests.helpers import layer_plan, seeded


def test_two_5x5_convs_two_pools_and_a_1x1_head_the_second_conv_bare() -> None:
    with seeded(0):
        narrow, wide = FCDD_CNN28(), FCDD_CNN28_W()
    assert layer_plan(narrow) == ["conv5-8", "bn", "act", "pool2/2", "conv5-16", "pool2/2", "conv1-1"]
    assert layer_plan(wide) == ["conv5-128", "bn", "act", "pool2/2", "conv5-128", "pool2/2", "conv1-1"]
    assert narrow.layers[1].eps == 1e-4  # the original's BatchNorm eps
    assert narrow(torch.zeros(2, 1, 28, 28)).shape == (2, 1, 7, 7)
