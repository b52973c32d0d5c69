"""evaluate_pixels on a tiny hand-computed case: pixel AUC, AUPRO, max-score AUC, counts, batching."""

from __future__ import annotations

import pytest
import torch

from fcdd.engine.evaluate import evaluate_pixels
from fcdd.engine.pixel_metrics import MaskTensor

# Four 2x2 heatmaps at mask resolution; images 1 and 2 are anomalous, with one 8-connected region each.
HEATMAPS = torch.tensor(
    [
        [[0.0, 1.0], [1.0, 0.0]],  # nominal
        [[3.0, 0.0], [1.0, 2.0]],  # anomalous: the diagonal 3, 2 (one region: diagonal neighbours connect)
        [[4.0, 1.0], [0.0, 0.0]],  # anomalous: the top row 4, 1
        [[3.5, 0.0], [0.0, 0.0]],  # nominal, with a bright pixel
    ]
).unsqueeze(1)
MASKS = torch.tensor(
    [
        [[0, 0], [0, 0]],
        [[1, 0], [0, 1]],
        [[1, 1], [0, 0]],
        [[0, 0], [0, 0]],
    ],
    dtype=torch.uint8,
).unsqueeze(1)
LABELS = torch.tensor([0, 1, 1, 0])


def _evaluate(batch_size: int, asked: list[slice] | None = None):
    def heatmaps(part: slice) -> torch.Tensor:
        if asked is not None:
            asked.append(part)
        return HEATMAPS[part]

    return evaluate_pixels(heatmaps, LABELS, MaskTensor(MASKS), batch_size=batch_size)


def test_pixel_auc_max_score_auc_and_counts_by_hand() -> None:
    result = _evaluate(batch_size=32)
    assert (result.anomalous_pixels, result.pixels) == (4, 16)
    # Anomalous pixels {4, 3, 2, 1} against 12 nominal ones {0 ×8, 1 ×3, 3.5}: 4 beats all 12, 3 and 2 beat
    # 11 each, 1 beats the eight 0s and ties the three 1s (a tie counts half).
    assert result.auc == pytest.approx((12 + 11 + 11 + 8 + 3 / 2) / (4 * 12))
    # Image peaks 1, 3, 4, 3.5 with labels 0, 1, 1, 0: 4 beats both nominal peaks, 3 only the 1.
    assert result.max_score_auc == pytest.approx(3 / 4)
    assert result.fpr[0] == result.tpr[0] == 0.0 and result.fpr[-1] == result.tpr[-1] == 1.0


def test_aupro_by_hand() -> None:
    # Mean region overlap against the nominal FPR as the threshold falls: 1/4 from FPR 0 to 1/12 (the 4),
    # then at FPR 1/12 it climbs to 3/4 (3 and 2 pass the threshold, 3.5 is the one false positive);
    # from there linearly to 1 at FPR 4/12 (the 1s), cut at FPR 0.3 where it reaches 0.75 + 0.25·(0.3 − 1/12)/(3/12).
    at_limit = 0.75 + 0.25 * (0.3 - 1 / 12) / (3 / 12)
    area = 0.25 / 12 + (0.75 + at_limit) / 2 * (0.3 - 1 / 12)
    assert _evaluate(batch_size=32).aupro == pytest.approx(area / 0.3, abs=1e-4)


def test_batches_change_nothing_and_each_slice_is_read_twice() -> None:
    asked: list[slice] = []
    batched = _evaluate(batch_size=3, asked=asked)
    whole = _evaluate(batch_size=32)
    assert asked == [slice(0, 3), slice(3, 4)] * 2  # one pass for the score range and peaks, one for the bins
    assert (batched.auc, batched.aupro, batched.max_score_auc) == (whole.auc, whole.aupro, whole.max_score_auc)
