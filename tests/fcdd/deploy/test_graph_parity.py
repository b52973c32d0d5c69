"""Eager PyTorch vs ONNX Runtime vs TorchScript: every network family and every test-time preprocessing.

The reference is the run's evaluation path (:func:`fcdd.engine.evaluate.score_images` with the
run's ``Preprocessing.test``, then the scorer's ``upsample``), never the exported module itself,
so a graph that drops a step (LCN) or changes one (σ) fails here even though it exports cleanly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fcdd.config import RunConfig
from fcdd.data import cifar, fmnist, folder, imagenet, mvtec, voc
from fcdd.data.preprocess import Preprocessing, Recipe, build_preprocessing
from fcdd.deploy.export import PARITY_TOLERANCE, export_run, probe_images
from fcdd.deploy.load import load_export
from fcdd.engine.evaluate import score_images
from fcdd.engine.runtime import resolve_runtime
from fcdd.methods.build import make_scorer
from tests.helpers import build, write_run_folder

FORMATS = ("onnx", "torchscript")


def _prep(dataset: str, recipe: str, raw: tuple[int, int, int], size: int) -> Preprocessing:
    """A dataset's named pipeline for raw images of ``raw``, as its loader builds it (constants included)."""
    recipes = {"custom": folder.RECIPES, "custom-gtms": folder.GTMS_RECIPES}.get(dataset)
    modules = {"fmnist": fmnist, "cifar10": cifar, "mvtec": mvtec, "imagenet": imagenet, "pascalvoc": voc}
    if recipes is None:
        recipes = modules[dataset].RECIPES
    stats = {"imagenet": (imagenet.MEAN, imagenet.STD), "pascalvoc": (voc.MEAN, voc.STD)}
    custom = ((0.45,), (0.25,)) if dataset.startswith("custom") else (None, None)  # custom data measures its own
    mean, std = stats.get(dataset, custom)
    name = "custom" if dataset.startswith("custom") else dataset
    return build_preprocessing(recipe, name, 0, raw, recipes=recipes, input_size=size, mean=mean, std=std)


def reference(config: RunConfig, net: torch.nn.Module, prep: Preprocessing, images: torch.Tensor):
    """Scores and input-resolution heatmaps as the run's evaluation computes them (fp32, CPU)."""
    scorer = make_scorer(config, net)
    runtime = resolve_runtime("cpu", "fp32")
    scores, maps = score_images(net, images, prep.test, scorer, runtime, batch_size=len(images))
    return scores, scorer.upsample(net, maps, prep.input_shape[1:])


def export_and_compare(
    tmp_path: Path, net_name: str, prep: Preprocessing, raw: tuple[int, int, int], batch: int, objective: str = "fcdd"
) -> dict[str, tuple[float, float]]:
    """Export a seeded net with ``prep`` in both formats, compare with the reference; max |Δ| (score, heatmap)."""
    config = RunConfig().replace(**{"network.name": net_name, "objective": objective, "heatmap.gauss_std": 1.6})
    net = build(net_name).eval()
    images = probe_images(raw, batch, seed=7)
    if objective == "fcdd":
        amplify(net, prep.test(images))
    scores, heatmaps = reference(config, net, prep, images)
    ranked = scores.double().sort().values
    gap = int((ranked[1:] - ranked[:-1]).argmax())  # decisions on both sides of the widest gap
    threshold = float(ranked[gap] + ranked[gap + 1]) / 2
    assert ranked[gap + 1] - ranked[gap] > 1e-6, "scores too close to decide apart"
    run = write_run_folder(tmp_path / "run", config, net, prep, raw)
    deltas = {}
    for fmt in FORMATS:
        export_run(run, fmt, tmp_path / fmt, threshold=threshold)
        got = load_export(tmp_path / fmt).predict(images.to(torch.uint8))
        assert got.scores.shape == (batch,) and got.heatmaps.shape == (batch, 1, *prep.input_shape[1:]), fmt
        deltas[fmt] = (
            float(np.abs(got.scores.astype(np.float64) - scores.double().numpy()).max()),
            float(np.abs(got.heatmaps.astype(np.float64) - heatmaps.double().numpy()).max()),
        )
        assert max(deltas[fmt]) <= PARITY_TOLERANCE, (fmt, deltas[fmt])
        assert got.anomalous is not None and (got.anomalous == (scores > threshold).numpy()).all(), fmt
    return deltas


def amplify(net: torch.nn.Module, inputs: torch.Tensor) -> None:
    """Scale an FCDD net's last conv so that its output φ peaks at ±3 on ``inputs``, as a trained net's does.

    Untrained nets give φ ≈ 0.01, so scores and heatmaps of 1e-4: an absolute tolerance of 1e-4
    would pass a graph that computes anything at all.
    """
    last = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        factor = 3 / net(inputs).abs().max()
        last.weight.mul_(factor)
        if last.bias is not None:
            last.bias.mul_(factor)


# Every network family (FCDD, and the AE baseline's) with a recipe of a dataset it is used on.
# The small nets see raw images larger than their input, so the crop or resize does something;
# together they cover every test-time pipeline (test_every_recipe_is_covered). The 224² nets run
# at their datasets' raw sizes, on a batch of 2.
CASES = [
    # The inner loop's two (each export takes seconds): LCN with a crop, LCN with a resize.
    ("FCDD_CNN28", "fmnist", "lcnaug1", (1, 32, 32), 28, 4),
    ("FCDD_CNN32_S", "mvtec", "lcnaug1", (3, 40, 40), 32, 4),
    *(
        pytest.param(*case, marks=pytest.mark.slow)
        for case in (
            ("FCDD_CNN28_W", "custom-gtms", "none", (1, 30, 34), 28, 4),
            ("FCDD_CNN32", "imagenet", "aug1", (3, 36, 40), 32, 4),
            ("FCDD_CNN32_LW3K", "mvtec", "none", (3, 40, 44), 32, 4),
            ("AE28", "fmnist", "aug1", (1, 32, 32), 28, 4),
            ("AE28_W", "fmnist", "lcn", (1, 28, 28), 28, 4),
            ("AE32", "cifar10", "lcn", (3, 36, 36), 32, 4),
            ("AE32_LW3K", "cifar10", "aug1", (3, 32, 32), 32, 4),
            ("FCDD_CNN224", "mvtec", "lcnaug1", (3, 240, 240), 224, 2),
            ("FCDD_CNN224_W", "imagenet", "aug1", (3, 256, 256), 224, 2),
            ("FCDD_CNN224_VGG", "pascalvoc", "aug1", (3, 240, 260), 224, 2),
            ("FCDD_CNN224_VGG_NOPT", "mvtec", "none", (3, 240, 240), 224, 2),
            ("FCDD_CNN224_VGG_F", "custom-gtms", "aug1", (3, 250, 280), 224, 2),
            ("AE224", "mvtec", "lcn", (3, 240, 240), 224, 2),
            ("AE224_VGG_NOPT", "custom", "none", (3, 256, 256), 224, 2),
        )
    ),
]


@pytest.mark.parametrize(("net", "dataset", "recipe", "raw", "size", "batch"), CASES)
def test_eager_onnx_and_torchscript_agree(tmp_path, net, dataset, recipe, raw, size, batch):
    objective = "ae" if net.startswith("AE") else "fcdd"
    deltas = export_and_compare(tmp_path, net, _prep(dataset, recipe, raw, size), raw, batch, objective)
    print(
        f"max |Δ| {net} {dataset}:{recipe}", {fmt: f"score {s:.2e} heatmap {h:.2e}" for fmt, (s, h) in deltas.items()}
    )


def test_every_network_family_is_covered():
    from fcdd.methods.build import get_method
    from fcdd.networks.registry import NETWORKS

    covered = {case.values[0] if hasattr(case, "values") else case[0] for case in CASES}
    # AE224_VGG and AE224_VGG_F are AE224_VGG_NOPT with ImageNet weights (frozen in part for _F): the
    # same layers, so the same graph; each of these takes minutes to export, so they are not repeated.
    covered |= {"AE224_VGG", "AE224_VGG_F"}
    exportable = {name for name in NETWORKS if name.startswith("FCDD_")} | set(get_method("ae").counterparts().values())
    assert exportable <= covered, sorted(exportable - covered)


def _test_time(recipe: Recipe, channels: int, raw: tuple[int, int, int], size: int) -> tuple[int, bool, bool, bool]:
    # What the test pipeline reads: the recipe's `lcn` and `resize` (the rest are training
    # augmentations), the channels, and whether the geometry changes the size.
    return channels, recipe.lcn, recipe.resize, raw[1:] != (size, size)


def test_every_recipe_is_covered():
    covered = set()
    for case in CASES:
        _, dataset, name, raw, size, _ = case.values if hasattr(case, "values") else case
        covered.add(_test_time(_prep(dataset, name, raw, size).recipe, raw[0], raw, size))
    channels = {"fmnist": (1,), "custom": (1, 3), "custom-gtms": (1, 3)}
    tables = {"fmnist": fmnist.RECIPES, "cifar10": cifar.RECIPES, "mvtec": mvtec.RECIPES, "imagenet": imagenet.RECIPES,
              "pascalvoc": voc.RECIPES, "custom": folder.RECIPES, "custom-gtms": folder.GTMS_RECIPES}  # fmt: skip
    for dataset, recipes in tables.items():
        for name, recipe in recipes.items():
            for c in channels.get(dataset, (3,)):
                key = _test_time(recipe, c, (c, 2, 2), 1)  # size-changing geometry: the case that can go wrong
                assert key in covered, (dataset, name, c)
