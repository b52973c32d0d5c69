"""The custom 224×224 FCDD nets layer by layer: five conv blocks, three 3×3/stride-2 pools, a 1×1 head."""

from __future__ import annotations

import torch

from fcdd.networks.cnn224 import FCDD_CNN224, FCDD_CNN224_W
from tests.helpers import layer_plan

BLOCK = ["bn", "act"]
POOL = "pool3/2"


def _plan(w: tuple[int, int, int, int, int]) -> list[str]:
    return [
        f"conv5-{w[0]}", *BLOCK, POOL, f"conv5-{w[1]}", *BLOCK, POOL, f"conv3-{w[2]}", *BLOCK,
        f"conv3-{w[3]}", *BLOCK, POOL, f"conv3-{w[4]}", "conv1-1",
    ]  # fmt: skip


def test_widths_and_layers() -> None:
    with torch.device("meta"):
        narrow, wide = FCDD_CNN224(), FCDD_CNN224_W()
    assert layer_plan(narrow) == _plan((8, 32, 64, 128, 128))
    assert layer_plan(wide) == _plan((32, 128, 256, 256, 128))
    pools = [m for m in narrow.modules() if isinstance(m, torch.nn.MaxPool2d)]
    assert all(p.padding == 1 for p in pools)  # halves the map and keeps cells centred (start 0)
    assert narrow.receptive_field.start == 0.0
