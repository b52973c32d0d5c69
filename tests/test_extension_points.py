"""The README's "how to add one" recipes, followed with dummy entries and run end to end.

Each recipe is: write the function (or module), add one line to the registry. Here the line is a
``monkeypatch.setitem`` on the registry dict, and the entry is a ``"module:attribute"`` reference
to this test module, exactly as a built-in entry refers to its module.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from fcdd.anomalies.registry import OE_SOURCES, SYNTHETIC_NOISE
from fcdd.config import RunConfig
from fcdd.data.base import ADData, DatasetLoader, fixed_classes
from fcdd.data.preprocess import Recipe, build_preprocessing
from fcdd.data.registry import DATASETS
from fcdd.networks.receptive_field import FCDDNet, LayerBuilder
from fcdd.networks.registry import NETWORKS
from fcdd.presets import get_preset
from fcdd.runner import run
from tune.cli import main

HERE = "tests.test_extension_points"


# --- a noise mode: one function with the AnomalySource signature ------------------------------
def stripes(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
    """White rows every 4 pixels, shifted at random per image."""
    c, h, w = shape
    offset = torch.randint(0, 4, (n, 1, 1, 1), generator=generator, device=generator.device)
    rows = torch.arange(h, device=generator.device).view(1, 1, h, 1)
    return ((rows + offset) % 4 == 0).float().expand(n, c, h, w) * 255.0


# --- a dataset: a module with load, classes, RECIPES and LOADER -------------------------------
CLASSES = ("dark", "bright")
RECIPES = {"none": Recipe()}


def load(root, normal_class, *, preprocessing="none", download=False, one_vs_rest=False, image_size=None) -> ADData:
    generator = torch.Generator().manual_seed(0)
    levels = torch.tensor([40, 200])
    train_labels = torch.arange(64) % 2
    test_labels = torch.arange(32) % 2

    def images(labels: Tensor) -> Tensor:
        noise = torch.randint(0, 30, (len(labels), 1, 28, 28), generator=generator)
        return (levels[labels].view(-1, 1, 1, 1) + noise).clamp(0, 255).to(torch.uint8)

    train, test = images(train_labels), images(test_labels)
    pre = build_preprocessing(
        preprocessing, "dummy", normal_class, (1, 28, 28), recipes=RECIPES, mean=(0.5,), std=(0.25,)
    )
    return ADData(
        name="dummy", class_names=CLASSES, normal_class=normal_class,
        train_images=train[train_labels == normal_class], test_images=test,
        test_labels=(test_labels != normal_class).long(), test_classes=test_labels.long(), preprocessing=pre,
    )  # fmt: skip


LOADER = DatasetLoader(load=load, classes=fixed_classes(CLASSES), recipes=RECIPES)


# --- a network: an FCDDNet built through a LayerBuilder ---------------------------------------
class TinyFCDD(FCDDNet):
    """conv3 → pool2 → conv1×1 on 1×28×28 (14×14 map)."""

    def __init__(self, *, bias: bool = True) -> None:
        b = LayerBuilder((1, 28, 28))
        layers = [b.conv(8, 3, padding=1, bias=bias), b.max_pool(2), b.conv(1, 1, bias=bias)]
        super().__init__((1, 28, 28), b.receptive_field)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(SYNTHETIC_NOISE, "stripes", f"{HERE}:stripes")
    monkeypatch.setitem(DATASETS, "dummy", f"{HERE}:LOADER")
    monkeypatch.setitem(NETWORKS, "TINY_FCDD", f"{HERE}:TinyFCDD")


def _config(**changes) -> RunConfig:
    base = get_preset("fmnist").replace(**{
        "data.dataset": "dummy", "data.preprocessing": "none", "network.name": "TINY_FCDD",
        "anomalies.noise_mode": "stripes", "optim.epochs": 5, "optim.lr": 0.05, "optim.batch_size": 16,
        "heatmap.n_samples": 4,
        "device": "cpu", "threads": 1,
    })  # fmt: skip
    return base.replace(**changes)


def test_unregistered_names_are_refused_by_the_config():
    with pytest.raises(ValueError, match="unknown noise mode 'stripes'"):
        get_preset("fmnist").replace(**{"anomalies.noise_mode": "stripes"})
    with pytest.raises(ValueError, match="unknown dataset 'dummy'"):
        get_preset("fmnist").replace(**{"data.dataset": "dummy"})
    with pytest.raises(ValueError, match="unknown network 'TINY_FCDD'"):
        get_preset("fmnist").replace(**{"network.name": "TINY_FCDD"})


@pytest.mark.slow
def test_registered_noise_mode_dataset_and_network_run_end_to_end(registered, tmp_path):
    result = run(_config(), tmp_path / "run")
    assert result.metrics.epochs == 5 and (tmp_path / "run" / "heatmaps_test.png").is_file()
    assert result.metrics.auc > 0.9  # bright vs dark images: trivially separable for a working trainer


@pytest.mark.slow
def test_registered_entries_work_through_the_cli(registered, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["train", "--dataset", "dummy", "--preprocessing", "none", "--net", "TINY_FCDD", "--noise-mode", "stripes",
            "--classes", "bright", "--seeds", "1", "--epochs", "1", "--batch-size", "16", "--device", "cpu",
            "--cpus-per-trial", "1", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert "class 1 (bright)" in capsys.readouterr().out
    assert main(["nets"]) == 0 and "TINY_FCDD" in capsys.readouterr().out


@pytest.mark.slow
def test_registered_outlier_exposure_source(registered, monkeypatch, tmp_path):
    monkeypatch.setitem(OE_SOURCES, "checkers", f"{HERE}:checkers")
    result = run(_config(**{"anomalies.noise_mode": "checkers"}), tmp_path / "run")
    assert result.metrics.auc > 0.9


def checkers(config: RunConfig, data: ADData):
    """An outlier-exposure source: a pool of 8 checkerboards."""
    from fcdd.anomalies.outlier_exposure import OutlierPool
    from fcdd.anomalies.sources import OutlierExposure

    grid = (torch.arange(28).view(-1, 1) // 4 + torch.arange(28).view(1, -1) // 4) % 2
    pool = (grid * 255).to(torch.uint8).expand(8, 1, 28, 28).contiguous()
    return OutlierExposure(pool=OutlierPool(pool), data=data)
