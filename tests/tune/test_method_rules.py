"""The method's rules hold alike from Python and the command line: ``RunConfig.update`` is the CLI-resolved base.

One test per rule (an OE folder implies outlier exposure; another dataset resets the preprocessing;
a custom folder takes the network's input), each checked for its value and for Python == CLI; and
`--baselines` takes every registered baseline method, with no change to the orchestrator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from torch import nn

from fcdd.config import RunConfig
from fcdd.methods.base import Method
from fcdd.methods.registry import METHODS
from fcdd.presets import get_preset
from tests.helpers import write_custom_tree
from tune.cli import make_parser
from tune.resolve import resolve_spec
from tune.spec_file import spec_from_dict

HERE = "tests.tune.test_method_rules"


def _cli_base(*argv: str) -> RunConfig:
    return resolve_spec(make_parser().parse_args(["train", *argv, "--cpus-per-trial", "1"])).base


def _python(config: RunConfig, **changes: Any) -> RunConfig:
    return config.update(**changes, threads=1)  # --cpus-per-trial 1 sets the trials' threads


def _config_file(tmp_path: Path, config: RunConfig) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()))
    return str(path)


def test_oe_folder_selects_outlier_exposure_from_it(tmp_path):
    folder = str(tmp_path.resolve())
    python = _python(get_preset("fmnist"), anomalies__oe_folder=folder)
    assert python == _cli_base("--preset", "fmnist", "--oe-folder", folder)
    assert (python.anomalies.supervise_mode, python.anomalies.noise_mode) == ("noise", "folder")
    # A supervise mode named with it is kept, even on a base whose own mode the folder alone would switch.
    base = get_preset("fmnist").replace(**{"anomalies.supervise_mode": "malformed_normal"})
    changes = {"anomalies.oe_folder": folder, "anomalies.supervise_mode": "malformed_normal"}
    python = _python(base, **changes)
    assert python == _cli_base(
        "--config", _config_file(tmp_path, base), "--oe-folder", folder, "--supervise-mode", "malformed_normal"
    )
    assert (python.anomalies.supervise_mode, python.anomalies.noise_mode) == ("malformed_normal", "folder")
    assert _python(base, **{"anomalies.oe_folder": folder}).anomalies.supervise_mode == "noise"


@pytest.mark.parametrize("noise_mode", ["imagenet", "imagenet22k", "emnist"])
def test_oe_folder_keeps_a_noise_mode_that_reads_the_folder(tmp_path, noise_mode):
    # These noise modes take the folder as their root: it must not turn them into plain `folder` OE.
    folder = str(tmp_path.resolve())
    base = get_preset("fmnist").replace(
        **{"anomalies.noise_mode": noise_mode, "anomalies.supervise_mode": "malformed_normal"}
    )
    python = _python(base, **{"anomalies.oe_folder": folder})
    assert python == _cli_base("--config", _config_file(tmp_path, base), "--oe-folder", folder)
    assert (python.anomalies.supervise_mode, python.anomalies.noise_mode) == ("noise", noise_mode)


def test_another_dataset_takes_its_own_preprocessing():
    python = _python(get_preset("fmnist"), **{"data.dataset": "cifar10"})
    assert python == _cli_base("--preset", "fmnist", "--dataset", "cifar10")
    assert get_preset("fmnist").data.preprocessing == "lcnaug1" and python.data.preprocessing is None
    named = _python(get_preset("fmnist"), **{"data.dataset": "cifar10", "data.preprocessing": "aug1"})
    assert named == _cli_base("--preset", "fmnist", "--dataset", "cifar10", "--preprocessing", "aug1")
    assert named.data.preprocessing == "aug1"


@pytest.mark.parametrize(
    ("preset", "flags", "size", "channels"),
    [
        ("fmnist", (), 28, 1),  # FCDD_CNN28_W takes 1×28×28: greyscale
        ("cifar10", (), 32, None),  # FCDD_CNN32_LW3K takes 3×32×32: RGB, the default
        ("fmnist", ("--image-size", "64"), 64, None),  # a size named is kept
    ],
)
def test_custom_folder_takes_the_networks_input(tmp_path, preset, flags, size, channels):
    root = str(write_custom_tree(tmp_path / "custom").resolve())
    changes = {"data.dataset": "custom", "data.data_dir": root}
    if flags:
        changes["data.image_size"] = int(flags[1])
    python = _python(get_preset(preset), **changes)
    assert python == _cli_base("--preset", preset, "--dataset", "custom", "--data-dir", root, *flags)
    assert (python.data.image_size, python.data.channels) == (size, channels)


def test_update_applies_layers_in_turn_and_fits_the_input_once_at_the_end(tmp_path):
    # A spec file's overrides, then the flags: the input fits the network the flags leave, not an earlier one.
    root = str(write_custom_tree(tmp_path / "custom").resolve())
    layered = get_preset("cifar10").update(
        {"data.dataset": "custom", "data.data_dir": root}, {"network.name": "FCDD_CNN28"}
    )
    assert (layered.data.image_size, layered.data.channels) == (28, 1)
    # Each layer implies against what the ones before made: the folder came first, the noise mode later.
    folder = str(tmp_path.resolve())
    custom = get_preset("custom")  # malformed_normal/confetti
    layered = custom.update({"anomalies.oe_folder": folder}, {"anomalies.noise_mode": "imagenet22k"})
    assert (layered.anomalies.supervise_mode, layered.anomalies.noise_mode) == ("noise", "imagenet22k")


# --- a baseline method: one module with a METHOD that has a `baseline` rule, one registry line ---
class DummyNet(nn.Module):
    """The base class of the dummy method's nets (it has none: only its baseline rule is used)."""


def dummy_baseline(fcdd: RunConfig) -> dict[str, Any]:
    return {"objective": "dummy", "optim.lr": fcdd.optim.lr / 10}


DUMMY = Method(
    name="dummy",
    summary="a baseline that only exists in this test",
    network_base=DummyNet,
    make_scorer=lambda heatmap, net: None,  # type: ignore[arg-type,return-value]
    baseline=dummy_baseline,
)


def test_a_registered_baseline_method_is_a_baselines_setting(monkeypatch):
    monkeypatch.setitem(METHODS, "dummy", f"{HERE}:DUMMY")
    spec = spec_from_dict({"preset": "fmnist", "classes": [0], "baselines": True}, n_classes=10)
    assert [name for name, _ in spec.settings] == ["fcdd", "hsc", "ae", "dummy"]  # the registry's order
    dummy = spec.setting_config("dummy")
    assert (dummy.objective, dummy.optim.lr) == ("dummy", spec.base.optim.lr / 10)
    assert spec.setting_config("hsc").network.name == "CNN28_W"  # the built-in baselines as before
