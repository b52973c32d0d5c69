"""The entry point end to end on tiny data: outputs, determinism, resume, callbacks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fcdd.config import RunConfig
from fcdd.engine.fit import EpochReport
from fcdd.presets import get_preset
from fcdd.runner import ResumeMismatchError, run
from tests.helpers import scores_auc


@pytest.fixture
def config(tiny_fmnist, tiny_oe_folder) -> RunConfig:
    return get_preset("fmnist").replace(
        **{
            "data.data_dir": str(tiny_fmnist),
            "optim.epochs": 2,
            "optim.batch_size": 32,
            "anomalies.noise_mode": "folder",
            "anomalies.oe_folder": str(tiny_oe_folder),
            "heatmap.n_samples": 4,
            "device": "cpu",
        }
    )


@pytest.mark.slow
def test_run_writes_every_artifact(config, tmp_path):
    reports: list[EpochReport] = []
    result = run(config, tmp_path / "run", on_epoch_end=reports.append)
    out = result.out_dir
    for name in (
        "config.json",
        "metrics.json",
        "scores.npz",
        "roc.png",
        "history.json",
        "loss.png",
        "heatmaps_test.png",
        "heatmaps_train.png",
        "snapshot.pt",
        "preprocessing.json",
    ):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["auc"] == pytest.approx(scores_auc(out), abs=1e-12)  # the reported AUC is the scores' AUC
    assert metrics["epochs"] == 2
    assert metrics["images_per_second"] > 0 and metrics["train_seconds"] > 0
    scores = np.load(out / "scores.npz")
    assert scores["score"].shape == (80,)
    assert (scores["label"] == (scores["original_class"] != 0)).all()
    assert RunConfig.from_dict(json.loads((out / "config.json").read_text())) == config
    assert [r.epoch for r in reports] == [1, 2]
    assert all(np.isfinite(r.loss) for r in reports)
    snapshot = torch.load(out / "snapshot.pt", weights_only=True)
    assert snapshot["epoch"] == 2


@pytest.mark.slow
def test_same_seed_same_auc_other_seed_differs(config, tmp_path):
    a = run(config, tmp_path / "a")
    b = run(config, tmp_path / "b")
    c = run(config.replace(seed=1), tmp_path / "c")
    assert abs(a.metrics.auc - b.metrics.auc) <= 1e-6
    sa, sb, sc = (np.load(r.out_dir / "scores.npz")["score"] for r in (a, b, c))
    assert np.array_equal(sa, sb)
    assert not np.allclose(sa, sc)


@pytest.mark.slow
def test_resume_continues_exactly(config, tmp_path):
    straight = run(config, tmp_path / "straight")
    run(config.replace(**{"optim.epochs": 1}), tmp_path / "resumed")
    resumed = run(config, tmp_path / "resumed")  # picks up the epoch-1 checkpoint
    assert len(resumed.history) == 2
    assert resumed.history[0]["loss"] == straight.history[0]["loss"]
    assert np.array_equal(
        np.load(straight.out_dir / "scores.npz")["score"], np.load(resumed.out_dir / "scores.npz")["score"]
    )


@pytest.mark.slow
def test_resume_refuses_other_settings(config, tmp_path):
    run(config.replace(**{"optim.epochs": 1}), tmp_path / "run")
    with pytest.raises(ResumeMismatchError, match="other settings"):
        run(config.replace(**{"optim.lr": 0.5}), tmp_path / "run")


@pytest.mark.slow
def test_eval_every_reports_test_auc(config, tmp_path):
    reports: list[EpochReport] = []
    result = run(config.replace(eval_every=1, **{"optim.epochs": 1}), tmp_path / "run", on_epoch_end=reports.append)
    assert reports[0].test_auc == pytest.approx(result.metrics.auc, abs=1e-12)  # the last epoch's is the final


@pytest.mark.slow
def test_training_learns_the_tiny_task(config, tmp_path):
    # Each class is a bright block at its own place: a few epochs must separate class 0 from the rest.
    result = run(config.replace(**{"optim.epochs": 6}), tmp_path / "run")
    assert result.metrics.auc > 0.8


@pytest.mark.slow
def test_validation_split_feeds_per_epoch_reports(config, tmp_path):
    reports: list[EpochReport] = []
    cfg = config.replace(eval_every=1, **{"data.validation_fraction": 0.25, "optim.epochs": 1})
    result = run(cfg, tmp_path / "run", on_epoch_end=reports.append)
    assert reports[0].val_auc is not None and reports[0].test_auc is None  # never the test split per epoch
    assert result.metrics.n_train == 18  # 24 nominal training images, 6 held out
    assert result.metrics.n_validation == 12  # 6 nominal + 6 real anomalies
    assert result.metrics.n_validation_anomalous == 6  # its AUC moves in steps of 1/(6·6)
    assert result.metrics.validation_anomalies.startswith("other-classes:")
    assert result.metrics.n_test == 80


def _write_custom_tree(root, size=40):
    rng = np.random.default_rng(0)
    from PIL import Image

    for split, kind, count in (("train", "normal", 10), ("test", "normal", 4), ("test", "anomalous", 4)):
        folder = root / split / "widget" / kind
        folder.mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(90, 110, size=(size, size, 3), dtype=np.uint8)
            if kind == "anomalous":
                pixels[10:20, 10:20] = 250  # a bright defect
            Image.fromarray(pixels).save(folder / f"{i}.png")


@pytest.mark.slow
def test_custom_folders_end_to_end(tmp_path):
    _write_custom_tree(tmp_path / "data")
    cfg = get_preset("custom").replace(
        **{
            "data.data_dir": str(tmp_path / "data"),
            "data.image_size": 32,
            "network.name": "FCDD_CNN32",
            "optim.epochs": 3,
            "optim.lr": 0.01,
            "optim.batch_size": 8,
            "heatmap.n_samples": 2,
            "device": "cpu",
        }
    )
    result = run(cfg, tmp_path / "run")
    scores = np.load(result.out_dir / "scores.npz")
    assert scores["label"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert result.metrics.n_train == 10
    assert result.metrics.auc > 0.9  # a bright square on flat grey: a working FCDD finds it


def test_network_and_data_shapes_must_match(config, tmp_path):
    with pytest.raises(ValueError, match=r"takes inputs of shape \(3, 32, 32\)"):
        run(config.replace(**{"network.name": "FCDD_CNN32"}), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_oe_folder_mode_without_folder_fails_before_writing(config, tmp_path):
    with pytest.raises(ValueError, match="needs --oe-folder"):
        run(config.replace(**{"anomalies.oe_folder": None}), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_custom_greyscale_any_size(tmp_path):
    _write_custom_tree(tmp_path / "data", size=30)
    cfg = get_preset("custom").replace(
        **{
            "data.data_dir": str(tmp_path / "data"),
            "data.image_size": 28,
            "data.channels": 1,
            "network.name": "FCDD_CNN28",
            "optim.epochs": 3,
            "optim.lr": 0.01,
            "optim.batch_size": 8,
            "heatmap.n_samples": 2,
            "device": "cpu",
        }
    )
    result = run(cfg, tmp_path / "run")
    assert json.loads((result.out_dir / "preprocessing.json").read_text())["raw_shape"][0] == 1
    assert result.metrics.auc > 0.9


@pytest.mark.slow
def test_deterministic_runs_repeat_and_leave_the_process_as_it_was(tiny_fmnist, tmp_path):
    import torch

    from fcdd.presets import get_preset
    from fcdd.runner import run

    config = get_preset("fmnist").replace(**{
        "data.data_dir": str(tiny_fmnist), "anomalies.noise_mode": "confetti", "optim.epochs": 1,
        "optim.batch_size": 32, "heatmap.n_samples": 4, "device": "cpu", "threads": 1, "deterministic": True,
    })  # fmt: skip
    before = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    first = run(config, tmp_path / "a", resume=False).metrics
    second = run(config, tmp_path / "b", resume=False).metrics
    assert (first.auc, first.final_loss) == (second.auc, second.final_loss)
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark) == before


@pytest.mark.slow
def test_masked_validation_anomalies_give_a_validation_pixel_auc(config, tmp_path):
    from sklearn.metrics import roc_auc_score

    from fcdd.runner import prepare

    cfg = config.replace(
        eval_every=1, **{"data.validation_fraction": 0.25, "data.validation_anomalies": "synthetic", "optim.epochs": 1}
    )
    reports: list[EpochReport] = []
    result = run(cfg, tmp_path / "run", on_epoch_end=reports.append)
    assert reports[0].val_pixel_auc is not None and 0 < result.metrics.val_pixel_auc < 1
    # the same number from sklearn on the full-resolution maps against the confetti masks, pixel by pixel
    prepared = prepare(cfg, (tmp_path / "run").resolve(), resume=True)  # the trained snapshot
    validation = prepared.validation
    evaluated = prepared.evaluate_on(validation.images, validation.labels)
    size = (prepared.data.input_shape[1], prepared.data.input_shape[2])
    maps = prepared.scorer.upsample(prepared.state.net, evaluated.maps, size)
    expected = roc_auc_score(validation.masks.flatten().numpy(), maps.flatten().float().numpy())
    assert result.metrics.val_pixel_auc == pytest.approx(expected, abs=1e-3)
    assert prepared.validation_metrics()["val_pixel_auc"] == pytest.approx(result.metrics.val_pixel_auc, abs=1e-9)
    # other classes as validation anomalies have no masks: no validation pixel AUC
    other = run(cfg.replace(**{"data.validation_anomalies": "other-classes"}), tmp_path / "other")
    assert other.metrics.val_pixel_auc is None and other.metrics.val_auc is not None
