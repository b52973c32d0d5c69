"""AE: the reconstruction loss and the reconstruction-error heatmaps against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from fcdd.methods.ae import ae_sample_losses, reconstruction_heatmaps
from fcdd.networks.build import build_network


def test_ae_mse_hand_values():
    x = torch.zeros(2, 1, 1, 2)
    recon = torch.tensor([[[[1.0, 1.0]]], [[[2.0, 0.0]]]])
    assert torch.allclose(ae_sample_losses(recon, x), torch.tensor([1.0, 2.0]))
    assert ae_sample_losses(recon, x).mean().item() == pytest.approx(1.5)


def test_reconstruction_heatmaps_by_hand() -> None:
    inputs = torch.zeros(1, 2, 2, 2)
    inputs[0, :, 0, 0] = torch.tensor([1.0, 3.0])
    inputs[0, :, 1, 1] = torch.tensor([-2.0, 0.0])
    recon = torch.zeros_like(inputs)
    recon[0, 0, 0, 1] = 0.5
    maps = reconstruction_heatmaps(recon, inputs)
    # (1² + 3²)/2 = 5, (0.5² + 0²)/2 = 0.125, (2² + 0²)/2 = 2, 0.
    assert torch.equal(maps, torch.tensor([[[[5.0, 0.125], [0.0, 2.0]]]]))


def test_reconstruction_heatmaps_of_an_ae() -> None:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = build_network("AE28").eval()
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        maps = reconstruction_heatmaps(net(x), x)
    assert maps.shape == (2, 1, 28, 28)
    # The per-pixel maps average to the AE's per-sample score (mean squared error over C, H, W).
    torch.testing.assert_close(maps.mean(dim=(1, 2, 3)), (net(x) - x).pow(2).mean(dim=(1, 2, 3)))


def test_reconstruction_shape_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match="inputs' shape"):
        reconstruction_heatmaps(torch.zeros(1, 1, 28, 28), torch.zeros(1, 1, 32, 32))
