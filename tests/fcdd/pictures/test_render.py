"""Pure picture functions."""

import torch

from fcdd.pictures.render import colourise, fit_tiles, grid_selection, tile_grid, to_display


def test_colourise_uses_jet_ends():
    maps = torch.tensor([0.0, 1.0]).view(2, 1, 1, 1)
    rgb = colourise(maps)
    assert rgb.shape == (2, 3, 1, 1)
    assert rgb[0, 2, 0, 0] >= 0.5 > rgb[0, 0, 0, 0]  # jet starts dark blue (0, 0, 0.5)
    assert rgb[1, 0, 0, 0] > 0.45 > rgb[1, 2, 0, 0]  # and ends dark red


def test_to_display_scales_each_image_and_makes_rgb():
    x = torch.tensor([[[[2.0, 4.0]]], [[[-1.0, 1.0]]]])
    out = to_display(x)
    assert out.shape == (2, 3, 1, 2)
    assert torch.equal(out[:, 0].flatten(), torch.tensor([0.0, 1.0, 0.0, 1.0]))


def test_tile_grid_layout():
    a = torch.zeros(2, 3, 4, 4)
    b = torch.ones(1, 3, 4, 4) * 0.5
    grid = tile_grid([a, b], padding=1, fill=1.0)
    assert grid.shape == (3, 2 * 5 + 1, 2 * 5 + 1)
    assert grid[0, 1, 1] == 0.0  # first tile
    assert grid[0, 6, 1] == 0.5  # second row first tile
    assert grid[0, 6, 6] == 1.0  # padded missing tile


def test_fit_tiles_downsamples_large_only():
    assert fit_tiles(torch.zeros(1, 3, 28, 28), 64).shape[-1] == 56  # up by an integer factor
    assert fit_tiles(torch.zeros(1, 3, 40, 40), 64).shape[-1] == 40
    assert fit_tiles(torch.zeros(1, 3, 224, 224), 64).shape[-1] == 64


def test_grid_selection_groups():
    scores = torch.tensor([0.5, 0.1, 0.9, 0.3, 0.8, 0.2])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    sel = grid_selection(scores, labels, 2)
    assert sel["nominal: first"].tolist() == [0, 1]
    assert sel["nominal: lowest scores"].tolist() == [1]
    assert sel["nominal: highest scores"].tolist() == [2]
    assert sel["anomalous: highest scores"].tolist() == [4]
