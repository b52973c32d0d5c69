"""The anomalous term every method shares, against hand-computed values."""

import math

import pytest
import torch

from fcdd.methods.base import anomalous_term


def test_anomalous_term_at_ln2_is_ln2():
    # -log(1 - exp(-ln 2)) = -log(1/2) = ln 2
    assert anomalous_term(torch.tensor(math.log(2))).item() == pytest.approx(math.log(2), rel=1e-6)


def test_anomalous_term_is_finite_at_zero_score():
    assert torch.isfinite(anomalous_term(torch.tensor([0.0]))).all()
