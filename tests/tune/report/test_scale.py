"""The report at scale: short legends, a first page that does not grow with the seeds, files that stand alone."""

from __future__ import annotations

import html
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.helpers import write_report_trials
from tune.collect import mean_roc
from tune.report import figures
from tune.report.build import build_report
from tune.report.sections.gallery import shown_per_class, spread

ROOT = Path(__file__).resolve().parents[3]


def legend_sizes(figure) -> list[int]:
    """The number of entries of every legend in ``figure``: each axes' and the figure's own."""
    legends = [axes.get_legend() for axes in figure.axes] + list(figure.legends)
    return [len(legend.get_texts()) for legend in legends if legend is not None]


def class_curves(normal_class: int, seeds: int, auc: float = 0.8) -> figures.ClassCurves:
    rng = np.random.default_rng(normal_class)
    item = figures.ClassCurves(normal_class, f"class {normal_class}")
    for seed in range(seeds):
        fpr = np.r_[0.0, np.sort(rng.uniform(size=20)), 1.0]
        item.seeds.append(seed)
        item.curves.append((fpr, np.sqrt(fpr)))
        item.aucs.append(auc + 0.001 * normal_class)
    item.grid, item.mean_tpr, item.std_tpr = mean_roc(item.curves)
    return item


def _cd_inputs(n: int) -> tuple[pd.Series, pd.DataFrame]:
    names = [f"setting {i}" for i in range(n)]
    ranks = pd.Series(np.linspace(1, n, n), index=names)
    p_values = pd.DataFrame(0.5, index=names, columns=names)
    return ranks, p_values


# Every figure function with many of what it draws: 60 seeds, 30 classes, 1,000 trials, 20 settings.
FIGURES = {
    "roc_by_class": lambda: figures.roc_by_class([class_curves(c, 60) for c in range(3)], "many seeds"),
    "roc_summary": lambda: figures.roc_summary([class_curves(c, 2) for c in range(30)], "30 classes"),
    "search_history": lambda: figures.search_history(
        list(range(1000)), [0.5 + (i % 97) / 200 for i in range(1000)],
        ["PRUNED" if i % 3 else "COMPLETE" for i in range(1000)], maximize=True, objective="val_auc"),
    "param_importances": lambda: figures.param_importances({f"p{i}": 1 / 20 for i in range(20)}),
    "critical_difference_diagram": lambda: figures.critical_difference_diagram(*_cd_inputs(20), 2.0, 0.05),
    "val_vs_test": lambda: figures.val_vs_test(
        [(i / 300, i / 300, "ok" if i % 2 else "pruned") for i in range(300)], (0.5, 0.5), "300 trials"),
    "pareto": lambda: figures.pareto(
        [(i / 300, 1 - i / 300, i % 5 == 0, i == 10) for i in range(300)], ("val_auc", "train_seconds"),
        ("max", "min"), 0.5),
}  # fmt: skip


def test_every_figure_function_is_checked_for_its_legend():
    functions = inspect.getmembers(figures, inspect.isfunction)
    drawn = {name for name, f in functions if inspect.signature(f).return_annotation == "Figure"}
    assert drawn == set(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_legend_grows_with_what_a_figure_draws(name):
    assert max(legend_sizes(FIGURES[name]()), default=0) <= figures.MAX_LEGEND


def test_roc_legends_few_seeds_per_plot_many_seeds_once():
    few = figures.roc_by_class([class_curves(c, 3) for c in range(2)], "3 seeds")
    assert legend_sizes(few) == [5, 5]  # per class: seed 0, 1, 2, ± std, mean
    many = figures.roc_by_class([class_curves(c, 60) for c in range(2)], "60 seeds")
    assert [a.get_legend() for a in many.axes] == [None, None] and legend_sizes(many) == [3]  # seed, band, mean
    summary = figures.roc_summary([class_curves(c, 2) for c in range(12)], "12 classes")
    (labels,) = [[t.get_text() for t in a.get_legend().get_texts()] for a in summary.axes]
    # the 4 lowest and 4 highest classes by AUC keep their entry, the other 4 share one
    assert labels[-1] == "4 other classes" and len(labels) == 9
    assert "class 0 (0.800)" in labels and "class 11 (0.811)" in labels and "class 5 (0.805)" not in labels


@pytest.mark.slow  # about 20 s on 2 busy cores: 22 ROC subplots twice, fANOVA
def test_every_figure_the_report_draws_keeps_its_legends_short(tmp_path, monkeypatch):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = write_report_trials(tmp_path / "tune" / "best", 11, 2, settings=("a", "b"))  # 44 trials, 11 classes
    search = tmp_path / "tune" / "search"
    search.mkdir()
    pd.DataFrame({"trial_id": [f"t{i}" for i in range(40)], "normal_class": 0, "status": "ok",
                  "val_auc": np.linspace(0.5, 0.9, 40), "test_auc": np.linspace(0.55, 0.85, 40),
                  "validation_anomalies": "synthetic"}).to_csv(search / "val_vs_test.csv", index=False)  # fmt: skip
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("lr", 1e-3, 1e-1, log=True) + t.suggest_int("width", 1, 4), n_trials=6)
    drawn: dict[str, list[int]] = {}
    render = figures.png

    def counting(figure):
        title = figure.get_suptitle() or figure.axes[0].get_title()
        drawn[title] = legend_sizes(figure)
        return render(figure)

    monkeypatch.setattr(figures, "png", counting)
    build_report(results, study=study)
    assert len(drawn) == 8, drawn  # ROC per class and summary of a and b, CD diagram, history, importances, scatter
    assert max(max(sizes, default=0) for sizes in drawn.values()) <= figures.MAX_LEGEND, drawn


@pytest.mark.parametrize("seeds", [3, 60])
def test_the_first_page_does_not_grow_with_the_seeds(tmp_path, seeds):
    written = build_report(write_report_trials(tmp_path, 1, seeds))
    page = written["html"].read_text()
    assert page.count("<img ") == 2 + 3  # the two ROC figures; the lowest, median and highest AUC
    assert f"all {seeds} seeds" in page
    assert written["class_page:0"].read_text().count("<img ") == seeds  # every seed one click away


def test_the_gallery_shows_lowest_median_highest_and_every_failure(tmp_path):
    aucs = [0.7, 0.9, 0.6, 0.8, 0.5, 0.95, 0.65]  # seeds 0..6; by AUC: 4, 2, 6, 0, 3, 1, 5
    results = write_report_trials(tmp_path, 1, 9, failed=frozenset({(0, 7), (0, 8)}), auc=lambda c, s: aucs[s])
    page = build_report(results)["html"].read_text()
    assert _gallery(page) == [4, 0, 5]
    assert "seed 4: AUC 0.500 (lowest of 7)" in page and "seed 0: AUC 0.700 (median of 7)" in page
    assert "seed 5: AUC 0.950 (highest of 7)" in page
    assert "1 failed (seed 7): RuntimeError: seed 1 is unlucky" in page
    assert "1 failed (seed 8): RuntimeError: seed 0 is unlucky" in page
    one = build_report(results, gallery_seeds=1)["html"].read_text()
    assert _gallery(one) == [0] and "per class the ok seeds with the median AUC and every failed trial" in one
    five = build_report(results, gallery_seeds=5)["html"].read_text()
    assert _gallery(five) == [4, 2, 0, 3, 5] and "seed 2: AUC 0.600 (rank 2 of 7, lowest AUC first)" in five
    assert _gallery(build_report(results, gallery_seeds=20)["html"].read_text()) == [4, 2, 6, 0, 3, 1, 5]


def _gallery(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'<img loading="lazy" src="gallery/class_0_seed_(\d+)\.png"', page)]


def test_spread_and_how_many_per_class():
    assert spread(7, 3) == [0, 3, 6] and spread(4, 3) == [0, 1, 3] and spread(2, 3) == [0, 1]
    assert spread(7, 1) == [3] and spread(4, 1) == [1] and spread(7, 5) == [0, 1, 3, 4, 6] and spread(0, 3) == []
    assert [shown_per_class(n, None) for n in (1, 10, 11, 15, 16, 30, 31)] == [3, 3, 2, 2, 1, 1, 1]
    assert shown_per_class(30, 4) == 4


def test_the_report_folder_stands_alone(tmp_path):
    results = write_report_trials(tmp_path / "results", 2, 4, failed=frozenset({(1, 3)}))
    build_report(results)
    shutil.rmtree(results / "runs")  # the runs are gone ...
    moved = shutil.copytree(results / "report", tmp_path / "elsewhere" / "report")  # ... and the report moved
    pages = [moved / "report.html", *sorted((moved / "classes").glob("*.html"))]
    assert [p.name for p in pages] == ["report.html", "default_class_0.html", "default_class_1.html"]
    for page in pages:
        text = page.read_text()
        assert "base64" not in text and "data:image" not in text
        assert all('loading="lazy"' in tag for tag in re.findall(r"<img [^>]*>", text))
        for ref in re.findall(r'(?:src|href)="([^"]*)"', text):
            assert ":" not in ref and not ref.startswith("/"), (page.name, ref)  # no scheme, no absolute path
            target = (page.parent / unquote(html.unescape(ref))).resolve()
            assert target.is_relative_to(moved.resolve()) and target.is_file(), (page.name, ref)
    assert 'href="classes/default_class_1.html"' in pages[0].read_text()
    assert 'src="../gallery/class_1_seed_2.png" width="4" height="4"' in pages[2].read_text()  # space kept for it
    assert all('href="../report.html"' in page.read_text() for page in pages[1:])
    assert "RuntimeError: seed 1 is unlucky" in pages[2].read_text()  # the failure, on its class's page too
    for ref in re.findall(r"\]\(([^)]*)\)", (moved / "report.md").read_text()):
        assert (moved / ref).is_file(), ref
    picture = Image.open(moved / "gallery" / "class_1_seed_2.png")
    assert picture.getpixel((0, 0)) == (20, 2, 100)  # its own run's picture, kept after the run folder went


def test_a_rebuilt_report_shows_the_runs_current_pictures(tmp_path, monkeypatch):
    results = write_report_trials(tmp_path, 1, 2)
    build_report(results)
    build_report(results)  # nothing to do for the pictures already there
    run_picture = results / "runs" / "default" / "normal_0" / "it_1" / "heatmaps_test.png"
    replacement = run_picture.with_name("new.png")
    Image.new("RGB", (4, 4), (9, 9, 9)).save(replacement)
    os.replace(replacement, run_picture)  # a rerun writes its picture anew
    monkeypatch.setattr(os, "link", _no_links)  # a file system without hard links: copies
    build_report(results)
    assert Image.open(results / "report" / "gallery" / "class_0_seed_1.png").getpixel((0, 0)) == (9, 9, 9)
    assert not list((results / "report" / "gallery").glob(".*"))  # no staged file left behind


def _no_links(source, target):
    raise OSError("hard links not supported")


def test_many_failures_are_grouped_and_listed_in_a_file(tmp_path):
    results = write_report_trials(tmp_path, 1, 25, failed=frozenset((0, s) for s in range(22)))
    written = build_report(results)
    page = written["html"].read_text()
    assert "22 failed trials, by the last line of their error" in page
    assert "<td>RuntimeError: seed 0 is unlucky</td><td>11</td><td>default</td><td>0</td>" in page
    assert "(the first 20 of 22)" in page and 'href="failed_trials.txt"' in page
    assert written["failed_trials"].read_text().count("Traceback") == 22


def test_a_large_search_shows_its_best_trials_and_its_ties(tmp_path):
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = write_report_trials(tmp_path / "tune" / "best", 1, 2)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.set_user_attr("objectives", ["val_auc"])
    study.optimize(lambda t: min(t.suggest_float("lr", 0, 1), 0.3) + 0 * t.suggest_int("width", 1, 4), n_trials=60)
    best = [t.number for t in study.trials if t.value == study.best_value]
    assert len(best) > 20  # many tied: the sentence lists 20 of them
    ties = {"count": len(best), "tolerance": 0.0025, "rule": "lowest cost (trial seconds) first, then the earliest "
            "trial", "trial_numbers": best}  # fmt: skip
    (tmp_path / "tune" / "best_params.json").write_text(json.dumps({"trial_number": best[-1], "ties": ties}))
    page = build_report(results, study=study)["html"].read_text()
    assert f"Best: trial #{best[-1]}, val_auc" in page  # the search's pick, not the first of the tied
    listed = ", ".join(f"#{n}" for n in best[:20]) + f" and {len(best) - 20} more"
    within = "within 0.0025, one step of the validation AUC"
    assert f"{len(best)} trials tied at the best val_auc ({within}): {listed}." in page
    assert f"the earliest trial: trial #{best[-1]}." in page
    assert "The best 20 of 60 trials" in page and 'href="search_trials.csv"' in page
    assert page.count("<tr><td>") < 40  # 20 search trials, 3 summary rows, 2 cost rows ...: not 60


@pytest.mark.slow
def test_fcdd_report_loads_no_torch(tmp_path):
    results = write_report_trials(tmp_path, 1, 2)
    code = "import sys\nfrom tune.cli import main\nmain(sys.argv[1:])\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code, "report", str(results)], capture_output=True, text=True,
                         cwd=ROOT, check=True)  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == "False"
    assert "gallery: 2 heatmap pictures in" in out.stdout
