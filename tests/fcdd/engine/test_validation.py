"""Validation data carved from the training split."""

import dataclasses

import pytest
import torch

from fcdd.data.base import ADData
from fcdd.data.preprocess import Preprocessing
from fcdd.engine.validation import split_validation


def _data(with_anomalies: bool) -> ADData:
    train = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 2, 2).contiguous()
    test = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    return ADData(
        name="toy",
        class_names=("a", "b"),
        normal_class=0,
        train_images=train,
        test_images=test,
        test_labels=torch.tensor([0, 0, 1, 1]),
        test_classes=torch.tensor([0, 0, 1, 1]),
        preprocessing=Preprocessing(name="none", input_shape=(1, 2, 2), shift=(0.0,), scale=(1.0,)),
        train_anomalies=torch.full((5, 1, 2, 2), 200, dtype=torch.uint8) if with_anomalies else None,
    )


def test_real_anomalies_and_disjoint_nominal_split():
    reduced, val = split_validation(_data(True), 0.3, seed=0, make_anomalies=lambda x, g: x, proxy_name="x")
    assert len(reduced.train_images) == 7 and val.labels.tolist() == [0, 0, 0, 1, 1, 1]
    held = set(val.images[:3, 0, 0, 0].tolist())
    kept = set(reduced.train_images[:, 0, 0, 0].tolist())
    assert held.isdisjoint(kept) and held | kept == set(range(10))
    assert (val.images[3:] == 200).all() and val.anomaly_source.startswith("other-classes:")


def test_proxy_anomalies_when_dataset_has_none():
    _, val = split_validation(_data(False), 0.2, seed=1, make_anomalies=lambda x, g: x + 100, proxy_name="noise/x")
    assert val.anomaly_source.startswith("synthetic:") and "noise/x" in val.anomaly_source
    assert (val.images[val.labels == 1] >= 100).all()


def test_same_seed_same_split():
    a = split_validation(_data(True), 0.3, seed=4, make_anomalies=lambda x, g: x, proxy_name="x")[1]
    b = split_validation(_data(True), 0.3, seed=4, make_anomalies=lambda x, g: x, proxy_name="x")[1]
    assert torch.equal(a.images, b.images)


def test_fraction_leaving_nothing_is_an_error():
    with pytest.raises(ValueError, match="leaves no training images"):
        split_validation(
            dataclasses.replace(_data(True), train_images=_data(True).train_images[:1]),
            0.5,
            seed=0,
            make_anomalies=lambda x, g: x,
            proxy_name="x",
        )


def _supervision(with_anomalies: bool, noise_mode: str, choice: str):
    from fcdd.anomalies.from_config import Supervision
    from fcdd.anomalies.outlier_exposure import OutlierPool
    from fcdd.config import RunConfig

    folder = "/x" if noise_mode == "folder" else None
    config = RunConfig().replace(**{"anomalies.noise_mode": noise_mode, "anomalies.oe_folder": folder,
                                    "data.validation_fraction": 0.3, "data.validation_anomalies": choice})  # fmt: skip
    pool = OutlierPool(torch.full((4, 1, 2, 2), 77, dtype=torch.uint8))
    supervision = Supervision(_data(with_anomalies), supervisor=None, source=pool, with_gt_maps=False,
                              removed_test_anomalies=0)  # type: ignore[arg-type]  # fmt: skip
    return config, supervision


@pytest.mark.parametrize(
    ("with_anomalies", "choice", "prefix", "value"),
    [
        (True, "auto", "other-classes:", 200),  # the dataset's real training anomalies
        (True, "other-classes", "other-classes:", 200),
        (True, "outlier-exposure", "outlier-exposure:", 77),  # the outlier images, real anomalies unused
        (False, "auto", "outlier-exposure:", 77),  # the run's own generator (here OE with p = 1)
    ],
)
def test_validation_anomalies_come_from_the_named_source(with_anomalies, choice, prefix, value):
    from fcdd.engine.validation import hold_out_validation

    config, supervision = _supervision(with_anomalies, "folder", choice)
    _, val = hold_out_validation(config, supervision)
    assert val.anomaly_source.startswith(prefix), val.anomaly_source
    assert (val.images[val.labels == 1] == value).all()


def test_synthetic_validation_anomalies_are_confetti_on_held_out_images():
    from fcdd.engine.validation import hold_out_validation

    config, supervision = _supervision(True, "folder", "synthetic")
    _, val = hold_out_validation(config, supervision)
    assert val.anomaly_source.startswith("synthetic:") and "confetti" in val.anomaly_source
    anomalies = val.images[val.labels == 1]
    assert not (anomalies == 200).all() and not (anomalies == 77).all()


def test_named_sources_that_do_not_exist_are_refused():
    from fcdd.config import RunConfig
    from fcdd.engine.validation import hold_out_validation

    config, supervision = _supervision(False, "folder", "other-classes")
    with pytest.raises(ValueError, match="holds no anomalous images .*use --validation-anomalies synthetic"):
        hold_out_validation(config, supervision)
    with pytest.raises(ValueError, match="need an outlier-exposure source, but the run uses noise/confetti"):
        RunConfig().replace(**{"anomalies.noise_mode": "confetti", "data.validation_anomalies": "outlier-exposure"})
    with pytest.raises(ValueError, match="`validation_anomalies` must be one of auto, other-classes"):
        RunConfig().replace(**{"data.validation_anomalies": "others"})


def test_made_anomalies_carry_masks_of_what_they_changed():
    def malform_one_pixel(x, g):
        x = x.clone()
        x[:, :, 0, 1] += 50  # only the top-right pixel changes
        return x

    _, val = split_validation(
        _data(False), 0.2, seed=1, make_anomalies=malform_one_pixel, proxy_name="malformed_normal/x"
    )
    assert val.masks is not None and val.masks.shape == (4, 1, 2, 2) and val.masks.dtype == torch.uint8
    assert val.masks[val.labels == 0].sum() == 0  # held-out nominal images: no anomalous pixel
    assert val.masks[val.labels == 1, 0].tolist() == [[[0, 1], [0, 0]]] * 2
    # an outlier image replaces the whole image: every pixel is anomalous
    _, val = split_validation(_data(False), 0.2, seed=1, make_anomalies=lambda x, g: x + 9, proxy_name="noise/folder")
    assert val.masks is not None and (val.masks[val.labels == 1] == 1).all()


def test_real_anomalies_carry_masks_only_where_the_dataset_has_them():
    _, val = split_validation(_data(True), 0.3, seed=0, make_anomalies=lambda x, g: x, proxy_name="x")
    assert val.masks is None  # other classes: no masks, no validation pixel AUC
    masks = torch.zeros(5, 1, 2, 2, dtype=torch.uint8)
    masks[:, :, 1, 1] = 255
    data = dataclasses.replace(_data(True), train_anomaly_masks=masks)
    _, val = split_validation(data, 0.3, seed=0, make_anomalies=lambda x, g: x, proxy_name="x")
    assert val.masks is not None and val.masks[val.labels == 1, 0].tolist() == [[[0, 0], [0, 1]]] * 3


@pytest.mark.parametrize("one_vs_rest", [False, True])
@pytest.mark.parametrize("choice", ["auto", "synthetic"])
def test_masks_missing_from_the_settings_agrees_with_the_split(one_vs_rest, choice):
    # A custom folder holds the other classes' training images exactly when it is one-vs-rest.
    from fcdd.engine.validation import hold_out_validation, masks_missing

    config, supervision = _supervision(one_vs_rest, "folder", choice)
    config = config.replace(**{"data.dataset": "custom", "data.one_vs_rest": one_vs_rest})
    _, val = hold_out_validation(config, supervision)
    assert (masks_missing(config.data) is not None) == (val.masks is None)


def test_masks_missing_asks_the_dataset_whether_it_is_one_vs_rest():
    from fcdd.config import DataConfig
    from fcdd.engine.validation import masks_missing

    assert "real training images without masks" in (masks_missing(DataConfig(dataset="cifar10")) or "")
    assert masks_missing(DataConfig(dataset="mvtec")) is None  # proxies: malformed or outlier images, masked
    assert masks_missing(DataConfig(dataset="cifar10", validation_anomalies="synthetic")) is None
    assert masks_missing(DataConfig(dataset="custom", validation_anomalies="other-classes")) is not None
    assert masks_missing(DataConfig(dataset="custom", one_vs_rest=True, ground_truth_maps=True)) is None


def test_the_validation_split_of_own_anomalous_data_is_flipped_without_masks():
    from fcdd.anomalies.from_config import prepare_supervision
    from fcdd.engine.validation import hold_out_validation
    from fcdd.presets import get_preset
    from tests.helpers.supervision import toy_data

    config = get_preset("fmnist").replace(**{"anomalies.noise_mode": "solid", "data.validation_fraction": 0.25})
    for train_label in (0, 1):
        supervision = prepare_supervision(config, toy_data(masks=False, train_label=train_label), torch.device("cpu"))
        _, validation = hold_out_validation(config, supervision)
        held_out = validation.labels[: len(validation.labels) // 2]  # the held-out own images come first
        assert held_out.eq(train_label).all() and validation.labels.sum() == len(validation.labels) // 2
        assert (validation.masks is None) == (train_label == 1)
