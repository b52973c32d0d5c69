"""Heatmap normalisation for pictures: quantile bounds, balanced subsets, one global scale."""

import torch

from fcdd.pictures.normalise import balanced_subset, normalise_global, quantile_bounds


def test_quantile_bounds():
    low, high = quantile_bounds(torch.tensor([2.0, 3.0, 4.0, 6.0]), 1.0)
    assert (low.item(), high.item()) == (2.0, 4.0)


def test_balanced_subset_has_equal_label_counts():
    labels = torch.tensor([0] * 10 + [1] * 3)
    idx = balanced_subset(labels, torch.Generator().manual_seed(0))
    assert (labels[idx] == 0).sum() == 3
    assert (labels[idx] == 1).sum() == 3


def test_global_normalisation_uses_one_scale():
    maps = torch.tensor([0.0, 1.0, 2.0, 4.0]).view(4, 1, 1, 1)
    labels = torch.tensor([0, 0, 1, 1])
    out = normalise_global(maps, labels, 1.0, torch.Generator().manual_seed(0))
    assert torch.allclose(out.flatten(), torch.tensor([0.0, 0.25, 0.5, 1.0]))
