"""Streaming pixel ROC against scikit-learn and hand-made cases."""

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from fcdd.engine.pixel_metrics import BinnedRoc, MaskFiles, pixel_curves


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
    masks = MaskFiles((str(tmp_path / "m.png"), None))
    assert masks.size(0, (1, 1)) == (8, 8) and masks.fallback_size() == (8, 8)
    assert masks.read(0, (1, 1)).sum() == 16
    heat = torch.zeros(2, 1, 2, 2)
    heat[0, 0, 0, 0] = 1.0  # exactly the anomalous quarter after nearest upsampling
    curves = pixel_curves([(heat, [0, 1])], masks, low=0.0, high=1.0)
    assert curves.roc.counts == (16.0, 112.0)
    assert curves.roc.auc() == 1.0 and curves.aupro() == 1.0


def _save_mask(path, mask):
    Image.fromarray((np.asarray(mask) * 255).astype(np.uint8)).save(path)


def test_aupro_by_hand_with_two_defects_in_one_image(tmp_path):
    # Region A = two pixels scored 0.9 and 0.5; region B = one pixel scored 0.7 (not touching A);
    # 13 nominal pixels, one at 0.6, twelve at 0.1. Descending thresholds give the PRO curve
    # (FPR, PRO): (0, 0.25) at 0.9, (0, 0.75) at 0.7, (1/13, 0.75) at 0.6, (1/13, 1) at 0.5, (1, 1).
    # Area to FPR 0.3: 0.75 * 1/13 + 1 * (0.3 - 1/13); divided by 0.3.
    mask = np.zeros((4, 4), dtype=np.uint8)
    mask[0, 0] = mask[0, 1] = mask[3, 3] = 1
    _save_mask(tmp_path / "m.png", mask)
    heat = torch.full((1, 1, 4, 4), 0.1)
    heat[0, 0, 0, 0], heat[0, 0, 0, 1], heat[0, 0, 3, 3], heat[0, 0, 2, 0] = 0.9, 0.5, 0.7, 0.6
    curves = pixel_curves([(heat, [0])], MaskFiles((str(tmp_path / "m.png"),)), low=0.1, high=0.9)
    assert curves.pro.regions == 2
    assert curves.aupro() == pytest.approx((0.75 / 13 + (0.3 - 1 / 13)) / 0.3, abs=1e-9)
    # ranking every anomalous pixel first, with no false positive, is perfect
    perfect = heat.clone()
    perfect[0, 0, 2, 0] = 0.1
    assert pixel_curves([(perfect, [0])], MaskFiles((str(tmp_path / "m.png"),)), low=0.1, high=0.9).aupro() == 1.0


def test_aupro_regions_are_per_image_and_eight_connected(tmp_path):
    diagonal = np.eye(3, dtype=np.uint8)  # one 8-connected region of 3 pixels
    _save_mask(tmp_path / "a.png", diagonal)
    _save_mask(tmp_path / "b.png", diagonal)
    heat = torch.zeros(2, 1, 3, 3)
    heat[0, 0] = torch.tensor(diagonal, dtype=torch.float32)  # image a: its region found
    curves = pixel_curves([(heat, [0, 1])], MaskFiles((str(tmp_path / "a.png"), str(tmp_path / "b.png"))),
                          low=0.0, high=1.0)  # fmt: skip
    assert curves.pro.regions == 2  # one region per image, not one per pixel, not one for both images
    # At threshold 1 region a is covered, region b not at all: (FPR 0, PRO 0.5); below it every pixel
    # is above: (1, 1). Linear between them, PRO is 0.65 at FPR 0.3: area (0.5 + 0.65) / 2 * 0.3, / 0.3.
    assert curves.aupro() == pytest.approx(0.575, abs=1e-9)


def _exact_aupro(scores, masks, limit=0.3):
    from scipy import ndimage

    from fcdd.engine.pixel_metrics import aupro

    regions = []
    for s, m in zip(scores, masks, strict=True):
        labels, n = ndimage.label(m, structure=np.ones((3, 3)))
        regions += [s[labels == k] for k in range(1, n + 1)]
    nominal = np.concatenate([s[m == 0] for s, m in zip(scores, masks, strict=True)])
    thresholds = np.unique(np.concatenate([s.ravel() for s in scores]))[::-1]
    fpr = [0.0] + [float((nominal >= t).mean()) for t in thresholds]
    pro = [0.0] + [float(np.mean([(r >= t).mean() for r in regions])) for t in thresholds]
    return aupro(np.array(fpr), np.array(pro), limit)


def test_binned_aupro_matches_an_exact_computation(tmp_path):
    rng = np.random.default_rng(0)
    scores, masks, paths = [], [], []
    for i in range(4):
        mask = np.zeros((24, 24), dtype=np.uint8)
        for _ in range(rng.integers(1, 4)):  # several defects per image
            y, x = rng.integers(0, 20, size=2)
            mask[y : y + rng.integers(2, 5), x : x + rng.integers(2, 5)] = 1
        score = rng.normal(size=(24, 24)) + 1.2 * mask
        _save_mask(tmp_path / f"{i}.png", mask)
        scores.append(score.astype(np.float32))
        masks.append(mask)
        paths.append(str(tmp_path / f"{i}.png"))
    heat = torch.from_numpy(np.stack(scores))[:, None]
    low, high = float(heat.min()), float(heat.max())
    curves = pixel_curves([(heat[:2], [0, 1]), (heat[2:], [2, 3])], MaskFiles(tuple(paths)), low=low, high=high)
    assert curves.aupro() == pytest.approx(_exact_aupro(scores, masks), abs=2e-3)
    assert 0.3 < curves.aupro() < 0.95


def test_masks_of_cropped_images_are_cut_to_their_central_square(tmp_path):
    mask = np.zeros((4, 8), dtype=np.uint8)  # 8 wide, 4 high: the image shows columns 2..5
    mask[:, 0] = 1  # outside the square: not in what the model saw
    mask[1, 3] = 1
    _save_mask(tmp_path / "wide.png", mask)
    cut = MaskFiles((str(tmp_path / "wide.png"),), center_square=True)
    assert cut.size(0, (1, 1)) == (4, 4)
    assert cut.read(0, (1, 1)).nonzero().tolist() == [[1, 1]]
    assert MaskFiles((str(tmp_path / "wide.png"),)).read(0, (1, 1)).sum() == 5
