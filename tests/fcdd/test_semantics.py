"""Semantics that must not drift silently: the per-pixel loss on masked data, the Pascal VOC sides, and every
noise mode's probabilities, sizes and values (reference §1.1, §4.5, §5.2, §5.3)."""

from __future__ import annotations

import math

import pytest
import torch

import fcdd.anomalies.confetti as confetti_module
import fcdd.anomalies.noise as noise_module
from fcdd.anomalies.confetti import sample_blobs
from fcdd.anomalies.from_config import prepare_supervision
from fcdd.data.base import ADData
from fcdd.data.preprocess import Recipe, build_preprocessing
from fcdd.engine.batching import make_batcher
from fcdd.engine.validation import hold_out_validation
from fcdd.methods.fcdd import FCDDScorer, fcdd_gt_sample_losses, fcdd_sample_losses, pseudo_huber
from fcdd.methods.upsample import receptive_upsample
from fcdd.networks.build import build_network
from fcdd.presets import get_preset
from tests.helpers import gen, seeded


def _data(*, masks: bool, train_label: int = 0) -> ADData:
    train = torch.randint(40, 60, (16, 1, 28, 28), generator=gen(0), dtype=torch.uint8)
    test = torch.randint(0, 255, (6, 1, 28, 28), generator=gen(1), dtype=torch.uint8)
    pre = build_preprocessing("none", "fmnist", 0, (1, 28, 28), recipes={"none": Recipe()})
    extra = {}
    if masks:
        test_masks = torch.zeros(6, 1, 28, 28, dtype=torch.uint8)
        test_masks[3:, :, 5:10, 5:10] = 1
        extra = {"test_masks": test_masks, "test_mask_files": (None,) * 6}
    return ADData(
        name="toy", class_names=("a", "b"), normal_class=0, train_images=train, test_images=test,
        test_labels=torch.tensor([0, 0, 0, 1, 1, 1]), test_classes=torch.tensor([0, 0, 0, 1, 1, 1]),
        preprocessing=pre, train_label=train_label, **extra,
    )  # fmt: skip


def _batch(config, data):
    supervision = prepare_supervision(config, data, torch.device("cpu"))
    return next(iter(make_batcher(config, supervision, torch.device("cpu")).epoch(gen(2)))), supervision


# --- the per-pixel ground-truth loss where the data has masks (§1.1) ---------------------------


def test_data_with_masks_trains_with_per_pixel_maps():
    config = get_preset("mvtec").replace(**{"optim.batch_size": 16, "anomalies.p": 0.5})
    (inputs, labels, maps), supervision = _batch(config, _data(masks=True))
    assert supervision.with_gt_maps and maps is not None and maps.shape == (16, 1, 28, 28)
    # artificial anomalies get all-ones maps, nominal samples all zeros
    assert torch.equal(maps.flatten(1).amax(1), labels.float()) and torch.equal(maps.flatten(1).amin(1), labels.float())
    (_, _, no_maps), plain = _batch(config, _data(masks=False))
    assert not plain.with_gt_maps and no_maps is None
    # unsupervised too, as the original: nominal-only batches with all-zero maps, the per-pixel loss
    (_, labels, maps), unsupervised = _batch(config.replace(**{"anomalies.supervise_mode": "unsupervised"}),
                                             _data(masks=True))  # fmt: skip
    assert unsupervised.with_gt_maps and maps is not None and not maps.any() and not labels.any()


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


# --- Pascal VOC: the horses are the anomalous side (§4.5) ---------------------------------------


def test_voc_images_are_the_anomalous_side_and_outlier_exposure_the_nominal():
    config = get_preset("fmnist").replace(**{"anomalies.noise_mode": "solid"})
    data = _data(masks=False, train_label=1)
    supervision = prepare_supervision(config, data, torch.device("cpu"))
    images = data.train_images.float()
    batch = supervision.supervisor(images, gen(2))
    kept = (batch.images == images).flatten(1).all(1)
    assert kept.any() and (~kept).any()
    assert (batch.labels[kept] == 1).all() and (batch.labels[~kept] == 0).all()  # dataset images 1, OE 0
    # the loss sees the same sides: the fixed labels of an offline set are flipped too
    offline = make_batcher(config.replace(**{"anomalies.offline": True}), supervision, torch.device("cpu"))
    assert offline.labels is not None and offline.labels[: len(images)].eq(1).all()


# --- noise modes: the reference's probabilities, sizes and values (§5.2, §5.3) ------------------

# (probability per pixel, side range, max rotation in degrees) of every layer each mode draws.
LAYERS = {
    "blob": [(0.002, (6, 6), 0.0)],
    "mixed_blob": [(1e-5, (34, 34), 0.0), (1e-5, (34, 34), 0.0)],
    "confetti": [(1.8e-5, (8, 54), 45.0), (1.2e-5, (8, 54), 45.0)],
}


@pytest.mark.parametrize("mode", sorted(LAYERS))
def test_each_mode_draws_its_layers_with_the_reference_probabilities_and_sizes(mode, monkeypatch):
    calls = []

    def spy(n, h, w, generator, *, p, side_range, max_rotation_deg=0.0, ensure_one=True):
        calls.append((p, tuple(side_range), float(max_rotation_deg)))
        return sample_blobs(n, h, w, generator, p=p, side_range=side_range, max_rotation_deg=max_rotation_deg,
                            ensure_one=ensure_one)  # fmt: skip

    monkeypatch.setattr(noise_module, "sample_blobs", spy)
    monkeypatch.setattr(confetti_module, "sample_blobs", spy)
    noise_module.get_noise_mode(mode)(2, (3, 64, 64), gen(0))
    assert calls == LAYERS[mode]


def test_blob_centres_follow_their_probability_with_at_least_one_per_image():
    # Bernoulli(p) per pixel conditioned on one or more: E[count] = λ / (1 − e^−λ) with λ = p·H·W.
    n, h, w, p = 4000, 28, 28, 0.002
    blobs = sample_blobs(n, h, w, gen(5), p=p, side_range=(6, 6))
    lam = p * h * w
    expected = lam / -math.expm1(-lam)
    assert len(blobs) / n == pytest.approx(expected, rel=0.03)
    assert torch.bincount(blobs.image, minlength=n).min() >= 1 and (blobs.side == 6).all()


def test_gaussian_uniform_and_solid_values():
    g = noise_module.get_noise_mode("gaussian")(64, (1, 32, 32), gen(0))
    assert g.std().item() == pytest.approx(64.0, rel=0.02) and abs(g.mean().item()) < 1.0
    u = noise_module.get_noise_mode("uniform")(64, (1, 32, 32), gen(0))
    assert 0 <= u.min() and u.max() < 255 and u.mean().item() == pytest.approx(127.5, rel=0.02)
    s = noise_module.get_noise_mode("solid")(64, (3, 8, 8), gen(0))
    flat = s.flatten(2)
    assert (flat == flat[:, :, :1]).all() and (s == s.round()).all() and s.max() <= 255  # one colour per image


def test_the_data_states_its_sides():
    # ADData.loss_labels turns the labels around; supervisor, offline set and validation split call it
    # (its one owner: tests/test_owners.py).
    data = _data(masks=False, train_label=1)
    assert data.own_images_anomalous and not _data(masks=False).own_images_anomalous
    added = torch.tensor([0, 1, 1, 0])
    assert data.loss_labels(added).tolist() == [1, 0, 0, 1]
    assert _data(masks=False).loss_labels(added).tolist() == [0, 1, 1, 0]
    with pytest.raises(ValueError, match="ADData.train_label must be 0 or 1, got 2"):
        _data(masks=False, train_label=2)


def test_the_validation_split_of_own_anomalous_data_is_flipped_without_masks():
    config = get_preset("fmnist").replace(**{"anomalies.noise_mode": "solid", "data.validation_fraction": 0.25})
    for train_label in (0, 1):
        supervision = prepare_supervision(config, _data(masks=False, train_label=train_label), torch.device("cpu"))
        _, validation = hold_out_validation(config, supervision)
        held_out = validation.labels[: len(validation.labels) // 2]  # the held-out own images come first
        assert held_out.eq(train_label).all() and validation.labels.sum() == len(validation.labels) // 2
        assert (validation.masks is None) == (train_label == 1)
