"""HSC: the loss against hand-computed values, and its heatmaps (input gradients) by hand and batched."""

from __future__ import annotations

import math

import torch
from torch import nn

from fcdd.methods.hsc import hsc_sample_losses, hsc_scores_and_gradient_heatmaps
from fcdd.networks.build import build_network


def test_hsc_hand_values():
    feats = torch.tensor([[math.sqrt(3), 0.0], [math.sqrt(3), 0.0]])  # ||phi||^2 = 3 → ℓ = 1
    losses = hsc_sample_losses(feats, torch.tensor([0, 1]))
    assert torch.allclose(losses, torch.tensor([1.0, -math.log(1 - math.exp(-1))]), atol=1e-6)


def _linear_net(weight: list[list[float]]) -> nn.Module:
    """φ(X) = W·vec(X) for X of shape (2, 1, 2): vec order is (c0p0, c0p1, c1p0, c1p1)."""
    linear = nn.Linear(4, len(weight), bias=False).double()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight, dtype=torch.float64))
    return nn.Sequential(nn.Flatten(), linear)


def test_gradient_heatmap_of_a_linear_net_by_hand() -> None:
    # ℓ = sqrt(‖Wx‖² + 1) − 1, so ∂ℓ/∂x = Wᵀ(Wx) / sqrt(‖Wx‖² + 1).
    net = _linear_net([[1, 1, 0, 0], [0, 0, 0, -2]])
    x = torch.tensor(
        [
            [1, 1, 5, -1],  # Wx = (2, 2), sqrt(8 + 1) = 3, ∂ℓ/∂x = (2, 2, 0, -4) / 3
            [3, 0, 0, 0],  # Wx = (3, 0), sqrt(9 + 1) = √10, ∂ℓ/∂x = (3, 3, 0, 0) / √10
        ],
        dtype=torch.float64,
    ).view(2, 2, 1, 2)
    scores, maps = hsc_scores_and_gradient_heatmaps(net, x)
    torch.testing.assert_close(scores, torch.tensor([3 - 1, math.sqrt(10) - 1], dtype=torch.float64))
    torch.testing.assert_close(hsc_scores_and_gradient_heatmaps(net, x)[1], maps)
    # |grad| summed over the 2 channels per pixel: pixel 0 = |c0p0| + |c1p0|, pixel 1 = |c0p1| + |c1p1|.
    expected = torch.tensor([[2 / 3 + 0, 2 / 3 + 4 / 3], [3 / math.sqrt(10), 3 / math.sqrt(10)]], dtype=torch.float64)
    assert maps.shape == (2, 1, 1, 2)
    torch.testing.assert_close(maps.view(2, 2), expected)


def test_gradient_heatmaps_leave_parameter_grads_and_inputs_alone() -> None:
    net = _linear_net([[1, 2, 3, 4]])
    weight = net[1].weight
    weight.grad = torch.full_like(weight, 7.0)
    x = torch.ones(1, 2, 1, 2, dtype=torch.float64)
    with torch.no_grad():  # works where evaluation loops usually run
        maps = hsc_scores_and_gradient_heatmaps(net, x)[1]
    assert torch.equal(weight.grad, torch.full_like(weight, 7.0))
    assert not x.requires_grad and x.grad is None
    assert not maps.requires_grad
    # ‖φ‖² = 100 → ∂ℓ/∂x = 10·(1, 2, 3, 4)/√101; pixel sums 1+3 and 2+4.
    torch.testing.assert_close(maps.view(2), torch.tensor([40, 60], dtype=torch.float64) / math.sqrt(101))


def test_batched_gradients_equal_per_sample_gradients() -> None:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = build_network("CNN28").double().eval()
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    batched = hsc_scores_and_gradient_heatmaps(net, x)[1]
    single = torch.cat([hsc_scores_and_gradient_heatmaps(net, x[i : i + 1])[1] for i in range(3)])
    assert batched.shape == (3, 1, 28, 28) and batched.sum() > 0
    torch.testing.assert_close(batched, single)
