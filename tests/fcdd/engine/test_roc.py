"""The sample-level ROC: hand-computed curves, tensors and arrays alike, and the errors for NaN scores and one label."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fcdd.engine.roc import sample_roc


def test_sample_roc_hand_computed():
    # Positives score 1 and 3, negatives 0 and 2: 3 of the 4 (positive, negative) pairs are ordered right.
    roc = sample_roc(torch.tensor([0.0, 2.0, 1.0, 3.0]), torch.tensor([0, 0, 1, 1]))
    assert roc.auc == 0.75
    assert roc.fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert roc.tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert roc.thresholds[1:].tolist() == [3.0, 2.0, 1.0, 0.0]  # from the highest score down
    # A tie between a positive and a negative counts half.
    assert sample_roc(torch.tensor([1.0, 1.0]), torch.tensor([0, 1])).auc == 0.5


def test_sample_roc_takes_arrays_as_tensors():
    scores, labels = torch.tensor([0.3, 0.1, 0.7, 0.2, 0.9], dtype=torch.float32), torch.tensor([0, 0, 1, 1, 1])
    a, b = sample_roc(scores, labels), sample_roc(scores.numpy(), labels.numpy())
    assert a.auc == b.auc == pytest.approx(5 / 6)
    assert np.array_equal(a.fpr, b.fpr) and np.array_equal(a.tpr, b.tpr) and np.array_equal(a.thresholds, b.thresholds)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_scores_are_one_line_that_counts_them(bad):
    with pytest.raises(ValueError, match=r"^1 of 3 test scores are not finite \(NaN/inf\); the model diverged"):
        sample_roc(torch.tensor([0.1, bad, 0.3]), torch.tensor([0, 1, 1]))


@pytest.mark.parametrize("label", [0, 1])
def test_one_label_has_no_auc(label):
    with pytest.raises(ValueError, match="only one label; an AUC needs nominal and anomalous samples"):
        sample_roc(torch.tensor([0.1, 0.2, 0.3]), torch.full((3,), label))


def test_scores_and_labels_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        sample_roc(np.array([0.1, 0.2, 0.3]), np.array([0, 1]))


def test_sample_roc_is_sklearns_curve_thresholds_and_auc():
    from sklearn.metrics import roc_auc_score, roc_curve

    rng = np.random.default_rng(3)
    for case in range(60):  # continuous scores, then scores with many ties; 2 to 300 samples
        n = int(rng.integers(2, 300))
        labels = np.r_[0, 1, rng.integers(0, 2, n - 2)]
        scores = rng.normal(size=n) if case % 2 else rng.integers(0, 1 + case // 4, n).astype(float)
        roc = sample_roc(scores, labels)
        expected_fpr, expected_tpr, expected_thresholds = roc_curve(labels, scores)
        assert np.array_equal(roc.fpr, expected_fpr) and np.array_equal(roc.tpr, expected_tpr), case
        assert np.array_equal(roc.thresholds, expected_thresholds), case
        assert roc.auc == roc_auc_score(labels, scores), case  # bit for bit
