"""One resolution for every command: identical flags give identical trial configs through train, benchmark and tune."""

from __future__ import annotations

import yaml

from tests.helpers import write_custom_tree
from tune.cli import make_parser
from tune.plan import expand
from tune.resolve import resolve_spec


def _resolve(*argv: str):
    return resolve_spec(make_parser().parse_args(list(argv)))


def _configs(spec):
    return [t.run_config() for t in expand(spec)]


def test_identical_flags_identical_configs_through_every_command(tiny_fmnist, tiny_oe_folder, tmp_path):
    flags = ["--data-dir", str(tiny_fmnist), "--classes", "0,1", "--epochs", "1", "--oe-folder", str(tiny_oe_folder),
             "--cpus-per-trial", "1", "--lr", "0.003"]  # fmt: skip
    spec_file = tmp_path / "fmnist.yaml"
    spec_file.write_text(yaml.safe_dump({"preset": "fmnist"}))
    train = _resolve("train", "--preset", "fmnist", *flags)
    bench = _resolve("benchmark", "--preset", "fmnist", *flags)
    from_spec = _resolve("benchmark", "--spec", str(spec_file), *flags)
    search = _resolve("tune", "--preset", "fmnist", *flags)
    assert _configs(train) == _configs(bench) == _configs(from_spec) == _configs(search)
    assert train.base == bench.base == from_spec.base == search.base
    config = _configs(train)[0]
    assert (config.anomalies.supervise_mode, config.anomalies.noise_mode) == ("noise", "folder")
    assert (config.threads, config.optim.lr, config.optim.epochs) == (1, 0.003, 1)
    assert [t.trial_id for t in expand(train)] == [t.trial_id for t in expand(from_spec)]


def test_oe_folder_flag_means_the_same_on_a_spec_with_another_base(tiny_oe_folder, tmp_path):
    # The custom preset trains on confetti-malformed images; --oe-folder switches it to outlier
    # exposure whether the preset comes from --preset or from a spec file.
    data = write_custom_tree(tmp_path / "custom")
    spec_file = tmp_path / "custom.yaml"
    spec_file.write_text(yaml.safe_dump({"preset": "custom", "classes": "all"}))
    flags = ["--data-dir", str(data), "--oe-folder", str(tiny_oe_folder), "--cpus-per-trial", "2"]
    via_preset = _resolve("train", "--preset", "custom", *flags)
    via_spec = _resolve("benchmark", "--spec", str(spec_file), *flags)
    assert _configs(via_preset) == _configs(via_spec)
    anomalies = via_spec.base.anomalies
    assert (anomalies.supervise_mode, anomalies.noise_mode) == ("noise", "folder")
    assert via_spec.class_names == ("metal", "wood")


def test_spec_overrides_then_flags_and_explicit_noise_mode_wins(tiny_fmnist, tiny_oe_folder, tmp_path):
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(yaml.safe_dump({"preset": "fmnist", "overrides": {"optim.epochs": 7, "optim.lr": 0.5}}))
    spec = _resolve("benchmark", "--spec", str(spec_file), "--data-dir", str(tiny_fmnist), "--lr", "0.02",
                    "--oe-folder", str(tiny_oe_folder), "--noise-mode", "imagenet22k")  # fmt: skip
    assert (spec.base.optim.epochs, spec.base.optim.lr) == (7, 0.02)
    assert spec.base.anomalies.noise_mode == "imagenet22k"  # named on the command line: not overridden


def test_oe_folder_keeps_a_noise_mode_that_reads_the_folder(tiny_fmnist, tiny_oe_folder):
    # imagenet22k takes --oe-folder as its root: the folder flag must not turn it into plain `folder` OE.
    imagenet = _resolve("benchmark", "--preset", "imagenet", "--data-dir", str(tiny_fmnist), "--dataset", "fmnist",
                        "--oe-folder", str(tiny_oe_folder))  # fmt: skip
    assert imagenet.base.anomalies.noise_mode == "imagenet22k"


def test_cpus_per_trial_sets_the_recorded_threads(tiny_fmnist):
    spec = _resolve("benchmark", "--data-dir", str(tiny_fmnist), "--cpus-per-trial", "3")
    assert spec.base.threads == 3 and spec.resources.cpus_per_trial == 3
    default = _resolve("train", "--data-dir", str(tiny_fmnist))
    assert default.base.threads >= 1 and default.resources.threads == default.base.threads


def test_baselines_are_settings_of_one_plan(tiny_fmnist):
    spec = _resolve("train", "--data-dir", str(tiny_fmnist), "--classes", "0", "--baselines")
    assert [name for name, _ in spec.settings] == ["fcdd", "hsc", "ae"]
    hsc, ae = spec.setting_config("hsc"), spec.setting_config("ae")
    assert (hsc.objective, hsc.network.name, hsc.heatmap.blur) == ("hsc", "CNN28_W", True)
    assert (ae.objective, ae.network.name, ae.anomalies.supervise_mode) == ("ae", "AE28", "unsupervised")


def test_config_file_source(tiny_fmnist, tmp_path):
    import json

    from fcdd.presets import get_preset

    path = tmp_path / "config.json"
    path.write_text(json.dumps(get_preset("fmnist").replace(**{"optim.lr": 0.07}).to_dict()))
    spec = _resolve("train", "--config", str(path), "--data-dir", str(tiny_fmnist), "--classes", "3")
    assert spec.base.optim.lr == 0.07 and spec.classes == (3,)


def test_tune_validation_fraction_sizes_the_search_split_only(tiny_fmnist):
    from tune.search_trials import search_base_config

    spec = _resolve("tune", "--data-dir", str(tiny_fmnist), "--classes", "0", "--validation-fraction", "0.3")
    assert spec.search.validation_fraction == 0.3
    assert search_base_config(spec).data.validation_fraction == 0.3  # what the search trials hold out
    assert spec.base.data.validation_fraction == 0.0  # the best setting's reruns train on everything
    assert all(t.run_config().data.validation_fraction == 0.0 for t in expand(spec))
    # a benchmark keeps the flag's plain meaning: its trials hold out that share
    bench = _resolve("benchmark", "--data-dir", str(tiny_fmnist), "--classes", "0", "--validation-fraction", "0.3")
    assert bench.base.data.validation_fraction == 0.3


def test_custom_folder_takes_the_networks_input_and_its_own_preprocessing(tmp_path):
    # Known instead of refused: --preset cifar10 --dataset custom used to decode every image at
    # 248² and then refuse, because FCDD_CNN32_LW3K takes 32².
    from tune.preflight import check_plan

    root = write_custom_tree(tmp_path / "custom", images=3)
    flags = ["--dataset", "custom", "--data-dir", str(root), "--classes", "0", "--seeds", "1"]
    cifar = _resolve("train", "--preset", "cifar10", *flags, "--oe-folder", str(root))
    d = cifar.base.data
    assert (d.image_size, d.channels, d.preprocessing) == (32, None, None)
    check_plan(cifar)  # passes before anything is decoded
    fmnist = _resolve("train", "--preset", "fmnist", *flags, "--noise-mode", "confetti")
    assert (fmnist.base.data.image_size, fmnist.base.data.channels) == (28, 1)  # a greyscale 28² network
    assert _resolve("train", "--preset", "fmnist", *flags, "--image-size", "64").base.data.image_size == 64


def test_tune_optimize_and_pick_flags_reach_the_search(tiny_fmnist):
    import pytest

    spec = _resolve("tune", "--data-dir", str(tiny_fmnist), "--optimize", "val_auc,gpu_seconds", "--pick", "knee")
    assert (spec.search.optimize, spec.search.pick, spec.search.scheduler) == (
        ("val_auc", "gpu_seconds"),
        "knee",
        "none",
    )
    assert _resolve("tune", "--data-dir", str(tiny_fmnist)).search.optimize == ("val_auc",)
    with pytest.raises(ValueError, match="needs `search.scheduler` none"):
        _resolve(
            "tune", "--data-dir", str(tiny_fmnist), "--optimize", "val_auc,gpu_seconds", "--early-stopping", "asha"
        )
