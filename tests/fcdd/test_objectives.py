"""Objectives against hand-computed values."""

import math

import pytest
import torch

from fcdd.methods.ae import ae_sample_losses
from fcdd.methods.base import anomalous_term
from fcdd.methods.fcdd import fcdd_gt_sample_losses, fcdd_sample_losses, pseudo_huber, sample_scores
from fcdd.methods.hsc import hsc_sample_losses


def test_pseudo_huber_hand_values():
    # sqrt(0+1)-1 = 0; sqrt(3+1)-1 = 1; sqrt(8+1)-1 = 2 (sign does not matter)
    phi = torch.tensor([0.0, math.sqrt(3), -math.sqrt(8)])
    assert torch.allclose(pseudo_huber(phi), torch.tensor([0.0, 1.0, 2.0]), atol=1e-6)


def test_anomalous_term_at_ln2_is_ln2():
    # -log(1 - exp(-ln 2)) = -log(1/2) = ln 2
    assert anomalous_term(torch.tensor(math.log(2))).item() == pytest.approx(math.log(2), rel=1e-6)


def test_anomalous_term_is_finite_at_zero_score():
    assert torch.isfinite(anomalous_term(torch.tensor([0.0]))).all()


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


def test_hsc_hand_values():
    feats = torch.tensor([[math.sqrt(3), 0.0], [math.sqrt(3), 0.0]])  # ||phi||^2 = 3 → ℓ = 1
    losses = hsc_sample_losses(feats, torch.tensor([0, 1]))
    assert torch.allclose(losses, torch.tensor([1.0, -math.log(1 - math.exp(-1))]), atol=1e-6)


def test_ae_mse_hand_values():
    x = torch.zeros(2, 1, 1, 2)
    recon = torch.tensor([[[[1.0, 1.0]]], [[[2.0, 0.0]]]])
    assert torch.allclose(ae_sample_losses(recon, x), torch.tensor([1.0, 2.0]))
    assert ae_sample_losses(recon, x).mean().item() == pytest.approx(1.5)
