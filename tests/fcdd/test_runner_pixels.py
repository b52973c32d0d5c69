"""End to end on data with pixel ground truth (a tiny MVTec tree) and with the baseline objectives."""

from __future__ import annotations

import json

import pytest

from fcdd.presets import get_preset
from fcdd.runner import run
from tests.helpers import scores_auc
from tests.helpers.mvtec import write_tree


@pytest.fixture
def mvtec_config(tmp_path):
    root = write_tree(tmp_path / "mvtec")
    return get_preset("mvtec").replace(
        **{
            "data.data_dir": str(root),
            "data.image_size": 32,
            "data.epoch_repeats": 2,
            "network.name": "FCDD_CNN32",
            "optim.epochs": 1,
            "optim.batch_size": 4,
            "heatmap.n_samples": 2,
            "heatmap.gauss_std": 4.0,
            "device": "cpu",
        }
    )


@pytest.mark.slow
def test_mvtec_reports_pixel_and_max_score_auc(mvtec_config, tmp_path):
    result = run(mvtec_config, tmp_path / "run")
    m = result.metrics
    for value in (m.pixel_auc, m.max_score_auc, m.pixel_aupro, m.constant_pixel_aupro, m.zscore_pixel_aupro):
        assert value is not None and 0 <= value <= 1
    # The defects are flat squares mid-image: the z-score finds them, and the centre-weighted constant
    # map already beats chance (what the floors are for).
    assert m.zscore_pixel_auc > 0.95 and 0.6 < m.constant_pixel_auc < m.zscore_pixel_auc
    assert m.auc == pytest.approx(scores_auc(result.out_dir), abs=1e-12)
    # 7 test images of 48 x 32 pixels at the masks' original resolution; 5 defect squares of 16 x 16
    assert (m.pixels, m.anomalous_pixels) == (7 * 48 * 32, 5 * 16 * 16)
    assert (result.out_dir / "pixel_roc.png").is_file()
    assert m.n_train == 4 and m.n_test == 7


@pytest.mark.slow
def test_semi_supervised_mvtec_gt_removes_its_anomalies_from_the_test_set(mvtec_config, tmp_path):
    cfg = mvtec_config.replace(
        **{"anomalies.supervise_mode": "noise", "anomalies.noise_mode": "mvtec_gt", "anomalies.defects_per_type": 1}
    )
    m = run(cfg, tmp_path / "run").metrics
    assert m.removed_test_anomalies == 2  # one per defect type
    assert m.n_test == 5 and m.n_test_anomalous == 3


@pytest.mark.slow
def test_offline_supervision_trains(mvtec_config, tmp_path):
    m = run(mvtec_config.replace(**{"anomalies.offline": True}), tmp_path / "run").metrics
    assert m.epochs == 1 and m.auc == pytest.approx(scores_auc(tmp_path / "run"), abs=1e-12)


@pytest.mark.slow
def test_baselines_flag_runs_hsc_and_ae(tiny_fmnist, tmp_path, capsys):
    from tune.cli import main

    out = tmp_path / "res"
    args = [
        "train",
        "--preset",
        "fmnist",
        "--data-dir",
        str(tiny_fmnist),
        "--classes",
        "0",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--noise-mode",
        "confetti",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        str(out),
        "--baselines",
    ]
    assert main(args) == 0
    for setting, objective, net in (("fcdd", "fcdd", "FCDD_CNN28_W"), ("hsc", "hsc", "CNN28_W"), ("ae", "ae", "AE28")):
        config = json.loads((out / "runs" / setting / "normal_0" / "it_0" / "config.json").read_text())
        assert (config["objective"], config["network"]["name"]) == (objective, net)
    summary = (out / "report" / "summary_by_class.csv").read_text()
    assert all(f"\n{setting}," in summary for setting in ("fcdd", "hsc", "ae"))
    ae = json.loads((out / "runs" / "ae" / "normal_0" / "it_0" / "config.json").read_text())
    assert ae["anomalies"]["supervise_mode"] == "unsupervised" and ae["heatmap"]["blur"] is True


def test_fcdd_net_with_baseline_objective_names_the_counterpart(tiny_fmnist, tmp_path):
    cfg = get_preset("fmnist").replace(objective="hsc", **{"data.data_dir": str(tiny_fmnist), "device": "cpu"})
    with pytest.raises(ValueError, match="use --net CNN28_W"):
        run(cfg, tmp_path / "run")


def test_mask_size_mismatch_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from tune.cli import main

    root = write_tree(tmp_path / "mvtec")
    first_category = sorted(p for p in root.iterdir() if p.is_dir())[0]  # class 0
    mask = sorted(first_category.rglob("*_mask.png"))[0]
    Image.fromarray(np.zeros((5, 7), dtype=np.uint8)).save(mask)
    out = tmp_path / "out"
    code = main(
        [
            "train",
            "--preset",
            "mvtec",
            "--data-dir",
            str(root),
            "--classes",
            "0",
            "--seeds",
            "1",
            "--net",
            "FCDD_CNN32",
            "--image-size",
            "32",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and mask.name in err[0]
    assert not out.exists()


@pytest.mark.slow
def test_imagenet30_and_voc_clever_hans_end_to_end(tmp_path):
    from tests.helpers.imagenet import write_tree as write_imagenet
    from tests.helpers.voc import write_voc

    imagenet = write_imagenet(tmp_path / "imagenet")
    small = {
        "data.image_size": 32,
        "network.name": "FCDD_CNN32",
        "optim.epochs": 1,
        "optim.batch_size": 8,
        "heatmap.n_samples": 2,
        "device": "cpu",
    }
    inet = get_preset("imagenet").replace(
        **small, **{"data.data_dir": str(imagenet), "anomalies.noise_mode": "confetti"}
    )
    m = run(inet, tmp_path / "inet").metrics
    assert m.n_test == 30 * 2 and m.auc == pytest.approx(scores_auc(tmp_path / "inet"), abs=1e-12)

    voc_root = write_voc(tmp_path / "voc")
    voc = get_preset("pascalvoc").replace(
        **small, **{"data.data_dir": str(voc_root), "anomalies.oe_folder": str(imagenet)}
    )
    m = run(voc, tmp_path / "voc_run").metrics
    assert m.n_train >= 1 and m.auc == pytest.approx(scores_auc(tmp_path / "voc_run"), abs=1e-12)
    # horses are the anomalous side: without outlier exposure there is no nominal side to train on
    with pytest.raises(ValueError, match="training images are the anomalous side"):
        run(
            voc.replace(**{"anomalies.supervise_mode": "unsupervised", "anomalies.oe_folder": None}),
            tmp_path / "voc_bad",
        )


@pytest.mark.slow
def test_train_report_of_a_run_with_masks_shows_pixel_and_max_score_auc(tmp_path, capsys):
    from tune.cli import main
    from tune.store import ResultsStore

    root = write_tree(tmp_path / "mvtec")
    out = tmp_path / "out"
    argv = ["train", "--preset", "mvtec", "--data-dir", str(root), "--classes", "0", "--seeds", "1",
            "--net", "FCDD_CNN32", "--image-size", "32", "--epochs", "1", "--batch-size", "4", "--gauss-std", "4",
            "--device", "cpu", "--cpus-per-trial", "1", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    (row,) = ResultsStore(out).rows()
    assert row["pixel_auc"] is not None and row["max_score_auc"] is not None
    page = (out / "report" / "report.html").read_text()
    for header in ("pixel AUC", "max-score AUC", "AUPRO@0.3", "constant-map pixel AUC", "z-score pixel AUC",
                   "constant-map AUPRO", "z-score AUPRO"):  # fmt: skip
        assert f"<th>{header}</th>" in page, header
    for key in ("pixel_auc", "max_score_auc", "pixel_aupro", "constant_pixel_auc", "zscore_pixel_aupro"):
        assert f"{row[key]:.3f} ± 0.000" in page, key
    summary = (out / "report" / "summary_by_class.csv").read_text().splitlines()[0]
    assert "pixel_auc_mean" in summary and "max_score_auc_mean" in summary and "zscore_pixel_aupro_mean" in summary


def _offline(monkeypatch, tmp_path):
    """No torch hub cache and no network: the ImageNet weights cannot be had."""
    import torch

    def unreachable(*args, **kwargs):
        raise OSError("<urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", unreachable)


@pytest.mark.slow
def test_offline_pretrained_net_is_one_line_before_anything_is_written(tmp_path, monkeypatch, capsys):
    from tune.cli import main

    _offline(monkeypatch, tmp_path)
    root = write_tree(tmp_path / "mvtec")
    out = tmp_path / "out"
    common = ["train", "--preset", "mvtec", "--data-dir", str(root), "--classes", "0", "--seeds", "1", "--epochs", "1",
              "--device", "cpu", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(common) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fcdd: error: cannot fetch the ImageNet weights of vgg11_bn")
    assert "--weights PATH" in err[0] and "--net FCDD_CNN224_VGG_NOPT" in err[0]
    assert not out.exists()
    # the net without pretraining needs no weights: it trains
    assert main([*common, "--net", "FCDD_CNN224_VGG_NOPT", "--batch-size", "4", "--epoch-repeats", "1"]) == 0


def test_frozen_vgg_without_pretraining_is_refused_with_the_way_out(tmp_path, capsys):
    from tune.cli import main

    root = write_tree(tmp_path / "mvtec")
    argv = [
        "train",
        "--preset",
        "mvtec",
        "--data-dir",
        str(root),
        "--classes",
        "0",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--epoch-repeats",
        "1",
        "--device",
        "cpu",
        "--quiet",
        "--no-pretrained",
        "--out",
        str(tmp_path / "out"),
    ]  # fmt: skip  (bounded, should the refusal ever break)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "freezes its first layers" in err[0] and "FCDD_CNN224_VGG_NOPT" in err[0]
    assert not (tmp_path / "out").exists()
