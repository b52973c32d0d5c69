"""Explaining images with a run folder written by hand (an untrained net): loading, decoding, scores, panels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fcdd import artifacts
from fcdd.engine.evaluate import score_images
from fcdd.explain import explain_images, load_trained_run, read_image
from fcdd.methods.build import build_model, make_scorer
from fcdd.presets import get_preset
from tests.helpers import seeded
from tests.helpers.supervision import toy_data


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """What a finished run leaves for `fcdd explain`: config, preprocessing, metrics and the snapshot."""
    folder = tmp_path / "run"
    config = get_preset("fmnist").replace(**{"network.name": "FCDD_CNN28", "precision": "fp32"})
    with seeded(0):
        net = build_model(config, pretrained=False)
    preprocessing = toy_data(masks=False).preprocessing
    artifacts.write_json(folder / "config.json", config.to_dict())
    artifacts.write_json(
        folder / "preprocessing.json", {"preprocessing": preprocessing.to_dict(), "raw_shape": [1, 28, 28]}
    )
    artifacts.write_json(folder / "metrics.json", {"precision": "fp32", "heatmap_scale": [0.25, 2.0]})
    artifacts.write_checkpoint(folder / "snapshot.pt", {"net": net.state_dict()})
    return folder


def test_a_run_folder_loads_with_its_weights_scale_and_shape(run_dir: Path) -> None:
    trained = load_trained_run(run_dir, device="cpu")
    assert trained.raw_shape == (1, 28, 28) and trained.heat_scale == (0.25, 2.0)
    assert trained.runtime.autocast_dtype is None and not trained.net.training
    with seeded(0):
        expected = build_model(trained.config, pretrained=False).state_dict()
    assert all(torch.equal(value, expected[key]) for key, value in trained.net.state_dict().items())


def test_each_image_gets_the_score_the_evaluation_gives_and_a_three_panel_picture(
    run_dir: Path, tmp_path: Path
) -> None:
    paths = []
    for i, size in enumerate([(28, 28), (40, 30)]):  # any size: resized to the run's raw size
        paths.append(tmp_path / f"image{i}.png")
        Image.fromarray(np.full(size[::-1], 60 + 80 * i, dtype=np.uint8)).save(paths[-1])
    trained = load_trained_run(run_dir, device="cpu")
    explained = list(explain_images(trained, paths, tmp_path / "out"))
    images = torch.cat([read_image(p, (1, 28, 28)) for p in paths])
    scores, _ = score_images(trained.net, images, trained.preprocessing.test, make_scorer(trained.config, trained.net),
                             trained.runtime, batch_size=2)  # fmt: skip
    assert [(p, written.name) for p, _, written in explained] == [(p, f"{p.stem}_heatmap.png") for p in paths]
    assert [score for _, score, _ in explained] == scores.tolist()
    with Image.open(explained[0][2]) as panel:
        assert panel.width > 3 * 28 and panel.height >= 28  # input | heatmap | overlay


def test_read_image_converts_and_resizes_to_the_raw_shape(tmp_path: Path) -> None:
    path = tmp_path / "rgb.png"
    Image.new("RGB", (40, 30), (10, 200, 30)).save(path)
    assert (
        read_image(path, (3, 32, 32)).tolist()
        == torch.tensor([10, 200, 30]).view(1, 3, 1, 1).expand(1, 3, 32, 32).tolist()
    )
    grey = read_image(path, (1, 28, 28))
    assert grey.shape == (1, 1, 28, 28) and grey.dtype == torch.uint8
    with pytest.raises(FileNotFoundError, match="image .*missing.png does not exist"):
        read_image(tmp_path / "missing.png", (1, 28, 28))


def test_an_unfinished_folder_names_what_is_missing(run_dir: Path) -> None:
    (run_dir / "snapshot.pt").unlink()
    (run_dir / "metrics.json").unlink()  # with metrics.json it is a finished run whose snapshot was pruned
    with pytest.raises(FileNotFoundError, match=r"not a finished run folder \(missing snapshot.pt\); pass --run"):
        load_trained_run(run_dir, device="cpu")


def test_a_snapshot_of_another_network_is_one_clear_error(run_dir: Path) -> None:
    config = json.loads((run_dir / "config.json").read_text())
    config["network"]["name"] = "FCDD_CNN28_W"
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(artifacts.CheckpointError, match="holds the weights of another network than FCDD_CNN28_W"):
        load_trained_run(run_dir, device="cpu")
