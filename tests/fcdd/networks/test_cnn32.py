"""The 32×32 FCDD nets layer by layer, as the original defines them (reference §3.1)."""

from __future__ import annotations

import torch

from fcdd.networks.cnn32 import FCDD_CNN32, FCDD_CNN32_LW3K, FCDD_CNN32_S
from tests.helpers import layer_plan, seeded

BLOCK = ["bn", "act"]


def test_conv_blocks_with_two_pools_the_last_conv_without_batchnorm() -> None:
    with torch.device("meta"):
        nets = FCDD_CNN32(), FCDD_CNN32_S(), FCDD_CNN32_LW3K()
    plans = [layer_plan(net) for net in nets]
    assert plans[0] == ["conv5-32", *BLOCK, "pool2/2", "conv5-64", *BLOCK, "pool2/2", "conv5-128", "conv1-1"]
    assert plans[1] == ["conv3-32", *BLOCK, "pool2/2", "conv3-64", *BLOCK, "pool2/2", "conv3-128", "conv1-1"]
    assert plans[2] == [
        "conv3-128", *BLOCK, "pool2/2", "conv3-256", *BLOCK, "conv3-256", *BLOCK, "pool2/2", "conv3-128", "conv1-1",
    ]  # fmt: skip


def test_same_padding_keeps_the_map_until_each_pool() -> None:
    with seeded(0):
        net = FCDD_CNN32_S()
    assert net(torch.zeros(1, 3, 32, 32)).shape == (1, 1, 8, 8)
