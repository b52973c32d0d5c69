"""constants.json: shape of every block, provenance, and the Fashion-MNIST recomputation."""

from __future__ import annotations

import json

import pytest
import torch

from fcdd.data import compute_constants
from fcdd.data.preprocess import class_constants, load_constants


def test_blocks_and_shapes() -> None:
    table = load_constants()
    for dataset, classes, channels, lcn_channels in (("fmnist", 10, 1, 1), ("cifar10", 10, 3, 1), ("mvtec", 15, 3, 3)):
        block = table[dataset]
        assert block["source"]
        assert [len(block[k]) for k in ("mean", "std", "lcn_min", "lcn_max")] == [classes] * 4
        assert all(len(v) == channels for v in block["mean"] + block["std"])
        assert all(len(v) == lcn_channels for v in block["lcn_min"] + block["lcn_max"])
        assert all(
            lo < 0 < hi
            for los, his in zip(block["lcn_min"], block["lcn_max"], strict=True)
            for lo, hi in zip(los, his, strict=True)
        )


def test_reference_values() -> None:
    assert compute_constants.mismatches(load_constants()["fmnist"]) == []
    cifar = class_constants("cifar10", 9)
    assert cifar.mean == (0.4986, 0.4853, 0.478)
    assert cifar.lcn_max == (8.046,)
    mvtec = class_constants("mvtec", 5)  # hazelnut
    assert mvtec.std == (0.1689, 0.076, 0.0438)
    assert mvtec.lcn_max == (18.97, 21.65, 26.41)


def test_fmnist_constants_on_hand_data() -> None:
    # Class 0: two 1x2 images [0, 255] and [255, 255]; pixels 0, 1, 1, 1 on [0, 1].
    images = torch.tensor([[[[0, 255]]], [[[255, 255]]]] + [[[[7, 9]]]] * 9, dtype=torch.uint8)
    labels = torch.tensor([0, 0, *range(1, 10)])
    block = compute_constants.fmnist_constants(images, labels)
    assert block["mean"][0] == [pytest.approx(0.75)]
    assert block["std"][0] == [pytest.approx(0.75**0.5 * 0.5)]
    # LCN of [0, 1] is [-1, 1]; the constant image [1, 1] maps to 0.
    assert block["lcn_min"][0] == [pytest.approx(-1.0)]
    assert block["lcn_max"][0] == [pytest.approx(1.0)]


def test_mismatch_reported() -> None:
    block = json.loads(json.dumps(load_constants()["fmnist"]))
    block["std"][3][0] = 0.36
    assert compute_constants.mismatches(block) == ["class 3 std: computed 0.36, reference 0.3542"]


def test_dumps_round_trips_and_keeps_rows_on_one_line() -> None:
    table = {"a": {"mean": [[0.5, 0.25], [1.0, 2.0]]}}
    text = compute_constants.dumps(table)
    assert json.loads(text) == table
    assert "[0.5, 0.25]" in text
