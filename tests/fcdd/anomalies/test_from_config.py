"""Supervision from a config: the per-pixel ground-truth maps where the data has masks, and which side is
anomalous on data whose own images are the anomalies (Pascal VOC) (reference §1.1, §4.5)."""

from __future__ import annotations

import torch

from fcdd.anomalies.from_config import prepare_supervision
from fcdd.engine.batching import make_batcher
from fcdd.presets import get_preset
from tests.helpers import gen
from tests.helpers.supervision import toy_data


def _batch(config, data):
    supervision = prepare_supervision(config, data, torch.device("cpu"))
    return next(iter(make_batcher(config, supervision, torch.device("cpu")).epoch(gen(2)))), supervision


# --- per-pixel ground-truth maps where the data has masks (§1.1) -------------------------------


def test_data_with_masks_trains_with_per_pixel_maps():
    config = get_preset("mvtec").replace(**{"optim.batch_size": 16, "anomalies.p": 0.5})
    (inputs, labels, maps), supervision = _batch(config, toy_data(masks=True))
    assert supervision.with_gt_maps and maps is not None and maps.shape == (16, 1, 28, 28)
    # artificial anomalies get all-ones maps, nominal samples all zeros
    assert torch.equal(maps.flatten(1).amax(1), labels.float()) and torch.equal(maps.flatten(1).amin(1), labels.float())
    (_, _, no_maps), plain = _batch(config, toy_data(masks=False))
    assert not plain.with_gt_maps and no_maps is None
    # unsupervised too, as the original: nominal-only batches with all-zero maps, the per-pixel loss
    (_, labels, maps), unsupervised = _batch(config.replace(**{"anomalies.supervise_mode": "unsupervised"}),
                                             toy_data(masks=True))  # fmt: skip
    assert unsupervised.with_gt_maps and maps is not None and not maps.any() and not labels.any()


# --- Pascal VOC: the horses are the anomalous side (§4.5) ---------------------------------------


def test_voc_images_are_the_anomalous_side_and_outlier_exposure_the_nominal():
    config = get_preset("fmnist").replace(**{"anomalies.noise_mode": "solid"})
    data = toy_data(masks=False, train_label=1)
    supervision = prepare_supervision(config, data, torch.device("cpu"))
    images = data.train_images.float()
    batch = supervision.supervisor(images, gen(2))
    kept = (batch.images == images).flatten(1).all(1)
    assert kept.any() and (~kept).any()
    assert (batch.labels[kept] == 1).all() and (batch.labels[~kept] == 0).all()  # dataset images 1, OE 0
    # the loss sees the same sides: the fixed labels of an offline set are flipped too
    offline = make_batcher(config.replace(**{"anomalies.offline": True}), supervision, torch.device("cpu"))
    assert offline.labels is not None and offline.labels[: len(images)].eq(1).all()
