"""FCDD: the pseudo-Huber score, the per-sample and per-pixel losses against hand-computed values, and the
scorer's choice of the per-pixel loss where there are ground-truth maps (reference §1.1)."""

import math

import pytest
import torch

from fcdd.methods.fcdd import FCDDScorer, fcdd_gt_sample_losses, fcdd_sample_losses, pseudo_huber, sample_scores
from fcdd.methods.upsample import receptive_upsample
from fcdd.networks.build import build_network
from tests.helpers import gen, seeded


def test_pseudo_huber_hand_values():
    # sqrt(0+1)-1 = 0; sqrt(3+1)-1 = 1; sqrt(8+1)-1 = 2 (sign does not matter)
    phi = torch.tensor([0.0, math.sqrt(3), -math.sqrt(8)])
    assert torch.allclose(pseudo_huber(phi), torch.tensor([0.0, 1.0, 2.0]), atol=1e-6)


def test_fcdd_losses_use_labels_per_sample():
    # sample 0: map of A values {0, 1} (phi 0 and sqrt 3) → s = 0.5, nominal → 0.5
    # sample 1: all A = 1 → s = 1, anomalous → -log(1 - e^-1)
    phi = torch.tensor([[[[0.0, math.sqrt(3)]]], [[[math.sqrt(3), math.sqrt(3)]]]])
    losses = fcdd_sample_losses(phi, torch.tensor([0, 1]))
    expected = torch.tensor([0.5, -math.log(1 - math.exp(-1))])
    assert torch.allclose(losses, expected, atol=1e-6)
    assert fcdd_sample_losses(phi, torch.tensor([0, 1])).mean().item() == pytest.approx(
        expected.mean().item(), rel=1e-6
    )


def test_all_anomalous_batch_keeps_anomalous_term():
    # The original pulls an all-anomalous batch to the centre; here labels decide.
    phi = torch.full((2, 1, 2, 2), math.sqrt(3))  # s = 1 each
    loss = fcdd_sample_losses(phi, torch.tensor([1, 1])).mean()
    assert loss.item() == pytest.approx(-math.log(1 - math.exp(-1)), rel=1e-6)
    assert loss.item() != pytest.approx(1.0)


def test_anomalous_loss_decreases_as_score_grows():
    phi = torch.tensor([0.5, 1.0, 4.0]).view(3, 1, 1, 1)
    losses = fcdd_sample_losses(phi, torch.ones(3, dtype=torch.long))
    assert losses[0] > losses[1] > losses[2]


def test_sample_scores_are_means_of_maps():
    maps = torch.arange(8.0).view(2, 1, 2, 2)
    assert torch.equal(sample_scores(maps), torch.tensor([1.5, 5.5]))


def test_gt_loss_hand_computed():
    # 2x2 upsampled map A' = [[1, 2], [3, 4]], Y marks the right column.
    a = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    y = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])
    # nominal part: (1 + 3) / 4 = 1; anomalous mean: (2 + 4) / 4 = 1.5 (divided by all pixels)
    expected = 1.0 - math.log(1 - math.exp(-1.5))
    assert fcdd_gt_sample_losses(a, y).item() == pytest.approx(expected, rel=1e-6)


def test_gt_loss_skips_log_term_without_anomalous_pixels():
    a = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert fcdd_gt_sample_losses(a, torch.zeros_like(a)).item() == pytest.approx(2.5)


def test_the_fcdd_loss_with_maps_is_the_per_pixel_variant():
    with seeded(0):
        net = build_network("FCDD_CNN28", pretrained=False)
    inputs = torch.randn(4, 1, 28, 28, generator=gen(3))
    labels = torch.tensor([0, 1, 0, 1])
    maps = labels.float().view(4, 1, 1, 1).expand(4, 1, 28, 28).contiguous()
    scorer = FCDDScorer(gauss_std=1.2)
    phi = net(inputs).float()
    per_pixel = fcdd_gt_sample_losses(receptive_upsample(pseudo_huber(phi), net.receptive_field, (28, 28), 1.2), maps)
    losses = scorer.losses(net, inputs, labels, maps)
    assert torch.allclose(losses, per_pixel)
    assert not torch.allclose(losses, fcdd_sample_losses(phi, labels))  # not the per-sample loss
