"""Every preset, field by field, against the original runner's defaults (reference §6.2).

The expected values are written out here, not derived from the config's defaults, so changing a
default or a preset (a γ, a weight decay, a σ, the batch layout) fails a test. Where a preset
differs on purpose, `fcdd.presets.DEVIATIONS` says so and the test checks the named value.
"""

from __future__ import annotations

import pytest

from fcdd.data.imagenet_classes import VOC_CLASS_WORDS
from fcdd.presets import DEFAULT_SEEDS, DEVIATIONS, PRESETS

# What every runner shares (§6.2: bias on, online supervision, OE limit ∞, resdown 64, no blurring)
# and this implementation's execution defaults (device, precision, threads are not the method).
COMMON = {
    "data.data_dir": None, "data.normal_class": 0, "data.download": False, "data.one_vs_rest": False,
    "data.image_size": None, "data.train_limit": None, "data.test_limit": None, "data.validation_fraction": 0.0,
    "data.validation_anomalies": "auto", "data.epoch_repeats": 1, "data.ground_truth_maps": False,
    "data.channels": None,
    "anomalies.oe_folder": None, "anomalies.oe_limit": None, "anomalies.defects_per_type": 1, "anomalies.p": 0.5,
    "anomalies.offline": False, "anomalies.exclude_words": [],
    "network.bias": True, "network.pretrained": True, "network.weights": None,
    "optim.micro_batch_size": None, "optim.milestones": [],
    "heatmap.n_samples": 20, "heatmap.tile_size": 64, "heatmap.blur": False, "heatmap.blur_std": None,
    "objective": "fcdd", "seed": 0, "device": "auto", "precision": "auto", "eval_every": 0, "threads": None,
    "deterministic": False,
}  # fmt: skip

ADAM_600 = {"optim.optimizer": "adam", "optim.lr": 1e-3, "optim.weight_decay": 1e-6, "optim.scheduler": "milestones",
            "optim.gamma": 0.1, "optim.milestones": [400, 500], "optim.epochs": 600,
            "optim.batch_size": 200}  # 20 x 10 accumulated loader batches = one forward of 200  # fmt: skip

RUNNERS = {
    "fmnist": {  # run_fmnist
        "data.dataset": "fmnist", "data.preprocessing": "lcnaug1", "network.name": "FCDD_CNN28_W",
        "anomalies.supervise_mode": "noise", "anomalies.noise_mode": "cifar100",
        "optim.optimizer": "sgd", "optim.lr": 1e-2, "optim.weight_decay": 1e-6, "optim.scheduler": "lambda",
        "optim.gamma": 0.98, "optim.batch_size": 128, "optim.epochs": 400,
        "heatmap.gauss_std": 1.2, "heatmap.quantile": 0.85,
    },
    "cifar10": {  # run_cifar10
        "data.dataset": "cifar10", "data.preprocessing": "aug1", "network.name": "FCDD_CNN32_LW3K",
        "anomalies.supervise_mode": "noise", "anomalies.noise_mode": "cifar100", **ADAM_600,
        "heatmap.gauss_std": 1.2, "heatmap.quantile": 0.85,
    },
    "mvtec": {  # run_mvtec: 16 x 8 loader batches concatenated, one forward/backward of 128
        "data.dataset": "mvtec", "data.preprocessing": "lcnaug1", "data.epoch_repeats": 10,
        "network.name": "FCDD_CNN224_VGG_F", "anomalies.supervise_mode": "malformed_normal",
        "anomalies.noise_mode": "confetti", "optim.optimizer": "sgd", "optim.lr": 1e-3, "optim.weight_decay": 1e-4,
        "optim.scheduler": "lambda", "optim.gamma": 0.985, "optim.batch_size": 128, "optim.epochs": 200,
        "heatmap.gauss_std": 12.0, "heatmap.quantile": 0.99,
    },
    "imagenet": {  # run_imagenet
        "data.dataset": "imagenet", "data.preprocessing": "aug1", "network.name": "FCDD_CNN224_VGG_NOPT",
        "anomalies.supervise_mode": "noise", "anomalies.noise_mode": "imagenet22k", **ADAM_600,
        "heatmap.gauss_std": 8.0, "heatmap.quantile": 0.97,
    },
    "pascalvoc": {  # run_pascalvoc (nominal label 1: ADData.train_label of the voc loader)
        "data.dataset": "pascalvoc", "data.preprocessing": "aug1", "network.name": "FCDD_CNN224_VGG_NOPT",
        "anomalies.supervise_mode": "noise", "anomalies.noise_mode": "imagenet",
        "anomalies.exclude_words": list(VOC_CLASS_WORDS), **ADAM_600,
        "heatmap.gauss_std": 8.0, "heatmap.quantile": 0.99,
    },
    "custom": {  # run_custom
        "data.dataset": "custom", "data.preprocessing": "aug1", "network.name": "FCDD_CNN224_VGG_F",
        "anomalies.supervise_mode": "noise", "anomalies.noise_mode": "imagenet22k",
        "optim.optimizer": "sgd", "optim.lr": 1e-3, "optim.weight_decay": 1e-6, "optim.scheduler": "lambda",
        "optim.gamma": 0.985, "optim.batch_size": 128, "optim.epochs": 200,
        "heatmap.gauss_std": 10.0, "heatmap.quantile": 0.97,
    },
}  # fmt: skip

# The preset's value where it deviates on purpose (each named in fcdd.presets.DEVIATIONS).
DEVIATED = {"custom": {"anomalies.supervise_mode": "malformed_normal", "anomalies.noise_mode": "confetti"}}


def test_every_runner_has_a_preset_and_back():
    assert set(PRESETS) == set(RUNNERS)
    assert set(DEVIATIONS) == set(DEVIATED)


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_preset_is_the_original_runner_field_by_field(name):
    expected = {**COMMON, **RUNNERS[name], **DEVIATED.get(name, {})}
    actual = PRESETS[name].to_flat()
    assert set(actual) == set(expected), f"fields without an expected value: {sorted(set(actual) ^ set(expected))}"
    wrong = {key: (actual[key], expected[key]) for key in expected if actual[key] != expected[key]}
    assert not wrong, f"{name} differs from its runner (preset, runner): {wrong}"


def test_deviations_say_how_to_get_the_original_back():
    for name, deviations in DEVIATIONS.items():
        for key, value in RUNNERS[name].items():
            if key in DEVIATED[name]:
                assert str(value) in " ".join(d.faithful for d in deviations), (name, key)


def test_default_seeds_are_the_runners_repeats():
    assert DEFAULT_SEEDS == 5
