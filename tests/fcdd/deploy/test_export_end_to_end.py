"""A real run, exported: the exported models give the run's own test scores, AUC and heatmaps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from fcdd.config import RunConfig
from fcdd.deploy.load import load_export
from fcdd.explain import load_trained_run
from fcdd.methods.build import make_scorer
from fcdd.runner import load_data
from tune.cli import main


@pytest.mark.slow
def test_exports_of_a_trained_run_reproduce_its_scores_and_auc(tiny_fmnist, tiny_oe_folder, tmp_path):
    out = tmp_path / "results"
    train = [
        "train", "--data-dir", str(tiny_fmnist), "--oe-folder", str(tiny_oe_folder), "--classes", "0", "--seeds", "1",
        "--epochs", "2", "--batch-size", "8", "--test-limit", "40", "--cpus-per-trial", "1", "--device", "cpu",
        "--precision", "fp32", "--quiet", "--out", str(out),
    ]  # fmt: skip
    assert main(train) == 0
    run = out / "runs" / "default" / "normal_0" / "it_0"
    config = RunConfig.from_dict(json.loads((run / "config.json").read_text()))
    data = load_data(config)
    with np.load(run / "scores.npz") as saved:
        scores, labels = saved["score"], saved["label"]
    auc = json.loads((run / "metrics.json").read_text())["auc"]
    assert np.array_equal(labels, data.test_labels.numpy())  # the same test images, in the same order
    trained = load_trained_run(run, device="cpu")
    scorer = make_scorer(config, trained.net)
    with torch.no_grad():
        _, maps = scorer.score(trained.net, trained.preprocessing.test(data.test_images.float()))
        heatmaps = scorer.upsample(trained.net, maps, (28, 28)).numpy()
    for fmt in ("onnx", "torchscript"):
        assert main(["export", "--run", str(run), "--format", fmt]) == 0
        got = load_export(run / f"export-{fmt}").predict(data.test_images)
        deltas = np.abs(got.scores - scores).max(), abs(roc_auc_score(labels, got.scores) - auc)
        on_maps = np.abs(got.heatmaps - heatmaps).max()
        print(f"{fmt}: max |Δ| score {deltas[0]:.2e}, |Δ| AUC {deltas[1]:.2e}, max |Δ| heatmap {on_maps:.2e}")
        assert deltas[0] <= 1e-5 and deltas[1] <= 1e-6 and on_maps <= 1e-5, fmt
