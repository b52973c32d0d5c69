"""Streaming pixel ROC against scikit-learn and hand-made cases."""

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from fcdd.engine.pixel_metrics import BinnedRoc, original_size, pixel_roc, read_mask


def test_binned_auc_matches_sklearn_when_fed_in_batches():
    g = torch.Generator().manual_seed(0)
    labels = torch.rand(20000, generator=g) < 0.1
    scores = torch.randn(20000, generator=g) + labels.float() * 1.3
    roc = BinnedRoc(float(scores.min()), float(scores.max()))
    for part in range(4):
        roc.update(scores[part * 5000 : (part + 1) * 5000], labels[part * 5000 : (part + 1) * 5000])
    assert roc.auc() == pytest.approx(roc_auc_score(labels.numpy(), scores.numpy()), abs=1e-4)
    assert roc.counts == (float(labels.sum()), float((~labels).sum()))


def test_ties_count_half_and_perfect_separation():
    roc = BinnedRoc(0.0, 1.0, bins=2)
    roc.update(torch.tensor([0.0, 1.0, 1.0]), torch.tensor([False, True, False]))
    # positive at 1.0 beats the negative at 0.0, ties the negative at 1.0: (1 + 0.5) / 2
    assert roc.auc() == pytest.approx(0.75)
    perfect = BinnedRoc(0.0, 1.0)
    perfect.update(torch.tensor([0.1, 0.2, 0.9]), torch.tensor([False, False, True]))
    assert perfect.auc() == 1.0
    fpr, tpr = perfect.curve()
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)


def test_no_positive_pixels_gives_nan():
    roc = BinnedRoc(0.0, 1.0)
    roc.update(torch.tensor([0.3]), torch.tensor([False]))
    assert np.isnan(roc.auc())


def test_pixel_roc_resizes_maps_to_mask_resolution(tmp_path):
    mask = np.zeros((8, 8), dtype=np.uint8)
    mask[:4, :4] = 255  # top-left quarter anomalous
    Image.fromarray(mask).save(tmp_path / "m.png")
    assert original_size(str(tmp_path / "m.png"), (1, 1)) == (8, 8)
    assert read_mask(str(tmp_path / "m.png"), (1, 1)).sum() == 16
    heat = torch.zeros(2, 1, 2, 2)
    heat[0, 0, 0, 0] = 1.0  # exactly the anomalous quarter after nearest upsampling
    roc = pixel_roc([(heat, [str(tmp_path / "m.png"), None])], low=0.0, high=1.0, fallback_size=(8, 8))
    assert roc.counts == (16.0, 112.0)
    assert roc.auc() == 1.0
