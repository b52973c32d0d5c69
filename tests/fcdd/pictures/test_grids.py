"""Heatmap grid figures: the global colour scale, the test grid's rows and captions, the training grid."""

from __future__ import annotations

import torch

from fcdd.anomalies.from_config import prepare_supervision
from fcdd.engine.evaluate import EvalResult
from fcdd.engine.roc import sample_roc
from fcdd.engine.runtime import Runtime
from fcdd.methods.ae import AEScorer
from fcdd.methods.fcdd import FCDDScorer
from fcdd.pictures import grids  # not `from … import test_heatmap_grid`: pytest would collect it as a test
from fcdd.pictures.normalise import quantile_bounds
from fcdd.presets import get_preset
from tests.helpers import build, randn
from tests.helpers.supervision import toy_data

CPU = Runtime(torch.device("cpu"))


def _result(data) -> EvalResult:
    maps = randn(len(data.test_labels), 1, 28, 28, seed=3).abs()
    scores = maps.mean(dim=(1, 2, 3))
    return EvalResult(scores=scores, labels=data.test_labels, maps=maps, roc=sample_roc(scores, data.test_labels))


def test_the_scale_comes_from_a_label_balanced_sample_of_the_pictures() -> None:
    data, config = toy_data(masks=False), get_preset("fmnist").replace(**{"heatmap.quantile": 0.5})
    result = _result(data)  # 3 nominal and 3 anomalous: the balanced sample is all of them
    low, high = grids.heatmap_scale(result, build("AE28"), AEScorer(), (28, 28), config)
    expected = quantile_bounds(result.maps, 0.5)
    assert (low, high) == (float(expected[0]), float(expected[1]))


def test_test_grid_rows_alternate_inputs_heatmaps_and_ground_truth() -> None:
    config = get_preset("fmnist").replace(**{"heatmap.n_samples": 2, "heatmap.tile_size": 28})
    for masks in (True, False):
        data = toy_data(masks=masks)
        image, labels, margin = grids.test_heatmap_grid(data, _result(data), build("AE28"), AEScorer(), config, (0, 1))
        rows = ["  heatmap", "  ground truth"] if masks else ["  heatmap"]
        groups = [f"{side}: {which}" for side in ("nominal", "anomalous") for which in ("first", "lowest scores",
                                                                                        "highest scores")]  # fmt: skip
        assert [text for _, text in labels] == [row for g in groups for row in (g, *rows)]
        assert image.shape[0] == 3 and image.shape[1] >= len(labels) * 28 and margin > 0
        assert [y for y, _ in labels] == sorted(y for y, _ in labels)


def test_training_grid_shows_both_sides_and_leaves_the_global_random_stream_alone() -> None:
    config = get_preset("fmnist").replace(**{"anomalies.noise_mode": "solid", "heatmap.n_samples": 3,
                                             "network.name": "FCDD_CNN28"})  # fmt: skip
    data = toy_data(masks=False)
    supervision = prepare_supervision(config, data, torch.device("cpu"))
    before = torch.random.get_rng_state()
    image, labels, _ = grids.train_heatmap_grid(
        data, build("FCDD_CNN28").eval(), supervision.supervisor, FCDDScorer(1.2), config, CPU
    )
    assert torch.equal(torch.random.get_rng_state(), before)
    assert [text for _, text in labels] == ["train nominal", "  heatmap", "train anomalous", "  heatmap"]
    assert image.shape[0] == 3 and torch.isfinite(image).all()
