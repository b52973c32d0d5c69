"""build_report on tiny fake run folders: every file, an HTML page with its figures beside it, partial runs, search."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fcdd.paper import PAPER
from tests.helpers import record
from tune.report.build import build_report
from tune.store import ResultsStore

LABELS = np.array([0, 0, 1, 1])
# Scores per (class, seed) and their hand-computed AUCs (pairs nominal < anomalous out of 4).
SCORES = {
    (0, 0): ([0.0, 1.0, 2.0, 3.0], 1.0),
    (0, 1): ([0.0, 2.0, 1.0, 3.0], 0.75),
    (1, 0): ([1.0, 2.0, 0.0, 3.0], 0.5),
    (1, 1): ([0.0, 2.0, 1.0, 3.0], 0.75),
}


def write_run(root, setting, cls, seed, scores):
    run_dir = root / setting / f"normal_{cls}" / f"it_{seed}"
    run_dir.mkdir(parents=True)
    np.savez(run_dir / "scores.npz", score=np.asarray(scores, dtype=np.float32), label=LABELS.astype(np.int64),
             original_class=np.array([cls, cls, 9, 8], dtype=np.int64))  # fmt: skip
    Image.new("RGB", (12, 8), (40 * cls, 200, 40 * seed)).save(run_dir / "heatmaps_test.png")
    return run_dir


def trial_row(run_dir, setting, cls, seed, auc, status="ok", error=None):
    metrics = {"auc": auc, "epochs": 1, "images_per_second": 50.0} if status == "ok" else {}
    return record(
        f"{setting}-{cls}-{seed}", status, benchmark="test", setting=setting, normal_class=cls,
        class_name=["T-shirt/top", "Trouser"][cls], seed=seed, error=error, run_dir=str(run_dir), trial_seconds=1.5,
        node="local", **metrics,
    )  # fmt: skip


def make_results(root, classes=(0, 1), settings=("default",)):
    store = ResultsStore(root)
    for setting in settings:
        for (cls, seed), (scores, auc) in SCORES.items():
            if cls in classes:
                store.append(trial_row(write_run(root, setting, cls, seed, scores), setting, cls, seed, auc))
    error = "Trace\nRuntimeError: CUDA OOM"
    store.append(trial_row(root / "missing", settings[0], classes[0], 2, None, "failed", error))
    return store


def test_report_writes_every_file(tmp_path):
    make_results(tmp_path)
    written = build_report(tmp_path, paper=PAPER, title="Tiny <benchmark>")
    report = tmp_path / "report"
    for name in ("summary_by_class.csv", "cost_by_class.csv", "roc_by_class.png", "roc_summary.png",
                 "gallery/class_0_seed_0.png", "gallery/class_0_seed_1.png", "gallery/class_1_seed_1.png",
                 "report.md", "report.html"):  # fmt: skip
        assert (report / name).is_file(), name
    assert all(path.is_file() for path in written.values())
    assert written["gallery:1:0"] == report / "gallery" / "class_1_seed_0.png"
    # the gallery holds every seed's heatmaps, each its own run's (seed colour in the blue channel)
    assert Image.open(report / "gallery" / "class_1_seed_0.png").getpixel((0, 0)) == (40, 200, 0)
    assert Image.open(report / "gallery" / "class_1_seed_1.png").getpixel((0, 0)) == (40, 200, 40)

    summary = pd.read_csv(report / "summary_by_class.csv")
    assert summary["auc_mean"].tolist() == pytest.approx([0.875, 0.625, 0.75])
    assert summary["paper_auc"].tolist() == pytest.approx([0.82, 0.98, 0.90])
    assert summary["n_failed"].tolist() == [1, 0, 1]

    page = (report / "report.html").read_text()
    assert "base64" not in page and 'src="http' not in page and "<link" not in page
    assert "Tiny &lt;benchmark&gt;" in page  # escaped title
    assert "0.875 ± 0.177" in page and "0.750 ± 0.177" in page  # class 0 and the overall row
    assert "RuntimeError: CUDA OOM" in page and "trials: 5 (4 ok, 1 failed)" in page
    assert page.count("<img ") == 6  # two ROC figures + a gallery picture per class and seed (2 of at most 3)
    assert "Budget: this run 1 epochs × 2 seed(s) per class; the paper 400 epochs × 5 seeds." in page
    assert "compares unlike budgets" in page
    markdown = (report / "report.md").read_text()
    assert "(roc_by_class.png)" in markdown and "(gallery/class_0_seed_1.png)" in markdown
    limited = build_report(tmp_path, gallery_seeds=1)  # the first page: each class's median-AUC seed only
    shown = re.findall(r'<img loading="lazy" src="(gallery/[^"]+)"', limited["html"].read_text())
    assert shown == ["gallery/class_0_seed_1.png", "gallery/class_1_seed_0.png"]  # the lower of two medians
    copied = {k for k in limited if k.startswith("gallery:")}  # every seed's picture, for the class pages
    assert copied == {"gallery:0:0", "gallery:0:1", "gallery:1:0", "gallery:1:1"}


def test_partial_run_and_moved_results_folder(tmp_path):
    make_results(tmp_path / "orig", classes=(1,))  # class 0 never ran
    (tmp_path / "orig" / "benchmark.json").write_text('{"classes": [0, 1]}')  # the plan had both
    (tmp_path / "orig").rename(tmp_path / "moved")  # run_dir paths in the store now point nowhere
    written = build_report(tmp_path / "moved", paper=PAPER)
    report = tmp_path / "moved" / "report"
    assert not any(k.startswith("gallery:0") for k in written)
    assert (report / "gallery" / "class_1_seed_0.png").is_file()
    page = (report / "report.html").read_text()
    assert "no trials yet for planned classes [0]" in page
    assert "no scores.npz" not in page  # run folders were found under the moved results folder
    summary = pd.read_csv(report / "summary_by_class.csv")
    assert summary["class_name"].tolist() == ["Trouser", "overall"]


def test_classes_the_plan_never_named_are_not_missing(tmp_path):
    make_results(tmp_path, classes=(1,))
    (tmp_path / "benchmark.json").write_text('{"classes": [1]}')
    assert "no trials yet" not in build_report(tmp_path, paper=PAPER)["html"].read_text()


def test_several_settings_get_their_own_figures(tmp_path):
    make_results(tmp_path, settings=("lr=0.1", "lr 0.01"))
    written = build_report(tmp_path)
    assert {"roc_by_class:lr=0.1", "roc_summary:lr 0.01"} <= set(written)
    assert (tmp_path / "report" / "roc_by_class_lr_0.01.png").is_file()
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Settings by overall AUC" in page


def test_settings_are_ranked_over_classes(tmp_path):
    # Three settings over four classes, two seeds each; fcdd beats both baselines on every class.
    store = ResultsStore(tmp_path)
    for cls in range(4):
        for setting, base in (("fcdd", 0.9), ("hsc", 0.8), ("ae", 0.7 + 0.15 * (cls == 3))):
            for seed in range(2):
                store.append(record(f"{setting}-{cls}-{seed}", setting=setting, normal_class=cls, seed=seed,
                                    class_name=f"c{cls}", auc=base + 0.01 * seed, epochs=1))  # fmt: skip
    written = build_report(tmp_path)
    page = written["html"].read_text()
    assert "Settings compared over classes" in page and "averaged over its seeds per class" in page
    assert "Friedman test over 4 classes × 3 settings" in page
    assert Image.open(written["critical_difference"]).size[0] > 100
    pairs = pd.read_csv(written["settings_pairwise"]).set_index(["a", "b"])
    assert pairs.loc[("fcdd", "hsc"), ["wins", "ties", "losses"]].tolist() == [4, 0, 0]
    assert pairs.loc[("hsc", "ae"), ["wins", "ties", "losses"]].tolist() == [3, 0, 1]
    by_class = pd.read_csv(written["settings_by_class"], index_col=0)
    assert by_class.loc[3, "ae"] == pytest.approx(0.855)  # the mean of its two seeds
    single = tmp_path / "single"
    make_results(single)
    assert "Settings compared" not in build_report(single)["html"].read_text()


def test_missing_store_is_a_clear_error_and_an_empty_one_still_reports(tmp_path):
    with pytest.raises(FileNotFoundError, match="trials.jsonl"):
        build_report(tmp_path)
    (tmp_path / "trials.jsonl").write_text('{"trial_id": "torn')  # the first row's write was cut short
    written = build_report(tmp_path)
    assert "No trials in the store yet." in written["html"].read_text()
    assert "roc_by_class" not in written


def test_search_section(tmp_path):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    make_results(tmp_path)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("lr", 1e-3, 1e-1, log=True) + t.suggest_int("width", 1, 4), n_trials=4)
    pruned = study.ask()
    pruned.suggest_float("lr", 1e-3, 1e-1, log=True)
    pruned.report(0.5, step=1)
    study.tell(pruned, state=optuna.trial.TrialState.PRUNED)

    written = build_report(tmp_path, study=study)
    report = tmp_path / "report"
    assert (report / "search_history.png").is_file() and written["search_history"] == report / "search_history.png"
    assert (report / "param_importances.png").is_file()
    trials = pd.read_csv(report / "search_trials.csv")
    assert trials["state"].tolist() == ["COMPLETE"] * 4 + ["PRUNED"]
    page = (report / "report.html").read_text()
    assert "PRUNED" in page and "Best: trial #" in page
    assert len(re.findall(r"<img ", page)) == 8  # 2 ROC figures, 4 gallery pictures, 2 search figures


def test_search_with_too_few_trials_skips_importances(tmp_path):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    make_results(tmp_path)
    study = optuna.create_study(direction="maximize")
    study.optimize(lambda t: t.suggest_float("lr", 0.0, 1.0), n_trials=1)
    written = build_report(tmp_path, study=study)
    assert "param_importances" not in written and "search_history" in written
    assert "need at least 2 completed trials" in (tmp_path / "report" / "report.html").read_text()
