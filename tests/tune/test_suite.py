"""A suite: several benchmarks from one spec and one command, each in its own folder, one report beside the paper."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
import yaml

from fcdd.paper import PAPER, variant_of
from tests.helpers import record, write_custom_tree
from tests.helpers.mvtec import write_tree
from tune.cli import main, make_parser
from tune.plan import TrialSpec
from tune.progress_file import Progress
from tune.report.suite import build_suite_report
from tune.resolve import resolve_plan
from tune.spec_file import spec_from_dict
from tune.store import ResultsStore
from tune.suite_spec import SHIPPED, Missing, Suite, as_missing, entry_raw

# A tiny trial: one epoch on a few images, on the CPU, one seed.
TINY = {"optim.epochs": 1, "device": "cpu", "heatmap.n_samples": 2}
SMALL_NET = {"data.image_size": 32, "network.name": "FCDD_CNN32", "optim.batch_size": 4}
CONFETTI = {"anomalies.supervise_mode": "malformed_normal", "anomalies.noise_mode": "confetti"}


def _trio(tiny_fmnist, tmp_path, **top):
    """Fashion-MNIST, a tiny MVTec-style tree and a tiny custom folder: one class each (MVTec's zipper)."""
    mvtec, custom = write_tree(tmp_path / "mvtec"), write_custom_tree(tmp_path / "custom")
    return {
        "name": "trio",
        "seeds": 1,
        "overrides": TINY,
        "resources": {"cpus_per_trial": 1},
        **top,
        "suite": [
            {"name": "fmnist", "preset": "fmnist", "classes": [0],
             "overrides": {"data.data_dir": str(tiny_fmnist), "optim.batch_size": 16, **CONFETTI}},
            {"name": "mvtec", "preset": "mvtec", "classes": ["zipper"],
             "overrides": {"data.data_dir": str(mvtec), "data.epoch_repeats": 1, "heatmap.gauss_std": 4.0,
                           **SMALL_NET}},
            {"name": "parts", "preset": "custom", "classes": [0],
             "overrides": {"data.data_dir": str(custom), **SMALL_NET}},
        ],
    }  # fmt: skip


def _write(tmp_path, raw, name="suite.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


def _plan(*argv):
    return resolve_plan(make_parser().parse_args(list(argv)))


# ------------------------------------------------------------------ the suite file


def test_entries_take_the_top_levels_defaults_and_the_flags_win_over_both(tiny_fmnist, tmp_path):
    raw = {
        "name": "duo", "seeds": 3, "max_failures": 0,
        "overrides": {"optim.epochs": 5, "device": "cpu", **CONFETTI}, "resources": {"cpus_per_trial": 2},
        "suite": [
            {"preset": "fmnist", "overrides": {"data.data_dir": str(tiny_fmnist)}},
            {"name": "parts", "preset": "custom", "seeds": 1, "resources": {"cpus_per_trial": 1},
             "overrides": {"data.data_dir": str(write_custom_tree(tmp_path / "custom")), "optim.epochs": 2}},
        ],
    }  # fmt: skip
    spec = _write(tmp_path, raw)
    suite = _plan("train", "--spec", str(spec))
    assert isinstance(suite, Suite) and suite.name == "duo" and not suite.missing
    fmnist, parts = suite.benchmarks
    assert (fmnist.name, parts.name) == ("fmnist-benchmark", "parts")  # an entry's default name: <dataset>-benchmark
    assert (fmnist.seeds, fmnist.base.optim.epochs, fmnist.resources.cpus_per_trial) == ((0, 1, 2), 5, 2)
    assert (parts.seeds, parts.base.optim.epochs, parts.resources.cpus_per_trial) == ((0,), 2, 1)  # the entry's
    assert fmnist.base.device == parts.base.device == "cpu" and fmnist.max_failures == parts.max_failures == 0
    assert parts.class_names == ("metal", "wood")

    flags = ["--seeds", "1", "--epochs", "1", "--cpus-per-trial", "3", "--name", "other", "--max-failures", "2"]
    suite = _plan("benchmark", "--spec", str(spec), *flags)
    assert suite.name == "other"
    for bench in suite.benchmarks:
        assert (bench.seeds, bench.base.optim.epochs, bench.resources.cpus_per_trial, bench.max_failures) == (
            (0,), 1, 3, 2,
        )  # fmt: skip
        assert bench.base.threads == 3  # a trial's threads follow its CPUs, as in one benchmark


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"suite": []}, "`suite` must be a non-empty list"),
        ({"suite": {"preset": "fmnist"}}, "`suite` must be a non-empty list"),
        ({"suite": ["fmnist"]}, "`suite[0]` must be a benchmark spec mapping"),
        ({"suite": [{"preset": "fmnist", "seed": 2}]}, "unknown key 'seed' in `suite[0]` (did you mean 'seeds'?)"),
        ({"suite": [{"preset": "fmnist", "max_failures": 2}]}, "suite[0]: `max_failures` applies to the whole suite"),
        ({"suite": [{"preset": "fmnist", "search": {"trials": 2}}]}, "suite[0]: a suite runs with `fcdd train`"),
        ({"suite": [{"preset": "fmnist", "settings": "fast"}]}, "suite[0]: `settings` must be a non-empty list"),
        ({"suite": [{"preset": "fmnist"}], "classes": [0]}, "unknown key 'classes' in the suite spec"),
    ],
)
def test_a_malformed_suite_is_one_error_naming_the_file_and_the_entry(tmp_path, change, message):
    spec = _write(tmp_path, {"name": "bad", **change})
    with pytest.raises(ValueError, match="^benchmark spec .*suite.yaml: ") as error:
        _plan("train", "--spec", str(spec))
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"preset": "fmnist"}, {"preset": "fmnist", "seeds": 2}],
         "two benchmarks of suite s are named fmnist-benchmark"),
        ([{"preset": "fmnist", "name": "a"}, {"preset": "cifar10", "name": "a"}],
         "two benchmarks of suite s are named a"),
        ([{"preset": "fmnist", "name": "report"}], "benchmark name 'report' is taken by the suite's own folder"),
    ],
)  # fmt: skip
def test_benchmark_names_are_distinct_folder_names(tmp_path, entries, message):
    with pytest.raises(ValueError, match="; give") as error:
        _plan("train", "--spec", str(_write(tmp_path, {"name": "s", "suite": entries})))
    assert message in str(error.value)


def test_tune_searches_one_benchmark_and_refuses_a_suite(tmp_path, capsys):
    spec = _write(tmp_path, {"suite": [{"preset": "fmnist"}]})
    assert main(["tune", "--spec", str(spec), "--plan-only"]) == 2
    assert "lists several benchmarks (`suite:`); a suite runs with `fcdd train` or `fcdd benchmark`" in (
        capsys.readouterr().err
    )


def test_the_paper_preset_is_a_suite_of_every_table_of_the_paper_at_its_budget():
    raw = yaml.safe_load(SHIPPED["paper"].read_text())
    specs = [spec_from_dict(entry_raw(raw, i), n_classes=1) for i in range(len(raw["suite"]))]
    covered = {}
    for spec in specs:
        anomalies = spec.base.anomalies
        covered[(spec.base.data.dataset, variant_of(anomalies.supervise_mode, anomalies.noise_mode))] = spec
    for table in PAPER:
        variant = table.variant or variant_of(None, None)  # one column: any supervision compares with it
        spec = covered[(table.dataset, variant)]
        assert (spec.base.optim.epochs, len(spec.seeds)) == (table.epochs, table.seeds), table.source
    # `--preset paper` reads the shipped file; the datasets without a data folder are listed, not fatal
    suite = _plan("benchmark", "--preset", "paper", "--classes", "0")
    assert suite.name == "paper"
    assert {s.name for s in suite.benchmarks} | {m.name for m in suite.missing} == {s.name for s in specs}
    assert {m.name for m in suite.missing} >= {"mvtec", "mvtec-semi"}  # MVTec has no default folder
    dry = _plan("train", "--preset", "paper", "--dry-run")
    assert dry.name == "paper-dry-run" and "imagenet" in {m.name for m in dry.missing}  # no ImageNet-22k folder


def test_missing_files_are_a_file_not_found_or_an_outlier_exposure_folder_not_given(tiny_fmnist):
    imagenet = spec_from_dict({"preset": "imagenet"}, n_classes=30)  # imagenet22k reads --oe-folder: none given
    fmnist = spec_from_dict({"preset": "fmnist", "overrides": {"data.data_dir": str(tiny_fmnist)}}, n_classes=10)
    found = as_missing(imagenet, ValueError("--noise-mode imagenet22k needs --oe-folder DIR\nmore"))
    assert found == Missing("imagenet-benchmark", "imagenet", "--noise-mode imagenet22k needs --oe-folder DIR")
    assert as_missing(fmnist, FileNotFoundError("no CIFAR-100 at x")).reason == "no CIFAR-100 at x"
    assert as_missing(fmnist, ValueError("FCDD_CNN28_W takes 28x28 images")) is None  # another fault: refused as is
    with_folder = spec_from_dict({"preset": "imagenet", "overrides": {"anomalies.oe_folder": str(tiny_fmnist)}},
                                 n_classes=30)  # fmt: skip
    assert as_missing(with_folder, ValueError("anything else")) is None


# ------------------------------------------------------------------ missing data


def test_a_suite_missing_data_is_refused_before_anything_is_written(tiny_fmnist, tmp_path, capsys):
    raw = _trio(tiny_fmnist, tmp_path)
    raw["suite"][1]["overrides"]["data.data_dir"] = str(tmp_path / "no-mvtec")  # found missing by the pre-flight
    del raw["suite"][2]["overrides"]["data.data_dir"]  # custom needs a folder: its classes cannot be listed
    out = tmp_path / "out"
    assert main(["train", "--spec", str(_write(tmp_path, raw)), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("fcdd: error: suite trio: no data for benchmarks parts (")
    assert f"mvtec (data folder {tmp_path / 'no-mvtec'} does not exist" in err
    assert "drop it from the suite, or pass --skip-missing to run the rest" in err
    assert not out.exists()


def test_a_suite_runs_with_some_data_or_into_a_folder_of_its_own(tiny_fmnist, tmp_path, capsys):
    raw = _trio(tiny_fmnist, tmp_path)
    for entry in raw["suite"][1:]:
        del entry["overrides"]["data.data_dir"]
    nothing = {**raw, "suite": raw["suite"][1:]}
    out = tmp_path / "out"
    assert main(["train", "--spec", str(_write(tmp_path, nothing)), "--out", str(out), "--skip-missing"]) == 2
    assert "fcdd: error: suite trio: no benchmark has its data: mvtec (dataset 'mvtec' needs a data dir" in (
        capsys.readouterr().err
    )
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    assert main(["train", "--spec", str(_write(tmp_path, raw)), "--out", str(out), "--skip-missing"]) == 2
    assert "is not empty and holds no suite (no suite.json; notes.txt...)" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_skip_missing_is_for_suites(tiny_fmnist, capsys):
    argv = ["train", "--preset", "fmnist", "--data-dir", str(tiny_fmnist), "--skip-missing", "--plan-only"]
    assert main(argv) == 2
    assert "--skip-missing leaves out a suite's benchmarks without data" in capsys.readouterr().err


def test_plan_only_lists_every_benchmark_and_those_without_data(tiny_fmnist, tmp_path, capsys):
    raw = _trio(tiny_fmnist, tmp_path)
    del raw["suite"][2]["overrides"]["data.data_dir"]
    assert main(["benchmark", "--spec", str(_write(tmp_path, raw)), "--out", str(tmp_path / "o"), "--plan-only"]) == 0
    out = capsys.readouterr().out
    assert "benchmark fmnist: 1 trials" in out and "benchmark mvtec: 1 trials" in out
    assert "benchmark parts: no data (dataset 'custom' needs a data dir" in out
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ report and progress


def _store(folder, dataset, normal_class, class_name, auc, *, pixel_auc=None, epochs=1, config=None):
    changes = {"pixel_auc": pixel_auc} if pixel_auc is not None else {}
    ResultsStore(folder).append(record("t0", dataset=dataset, normal_class=normal_class, class_name=class_name, auc=auc,
                                       epochs=epochs, config=config or {}, **changes))  # fmt: skip


def test_the_suite_report_puts_each_benchmark_beside_the_papers_table(tmp_path):
    _store(tmp_path / "fm", "fmnist", 1, "Trouser", 0.9)
    _store(tmp_path / "mv", "mvtec", 14, "zipper", 0.7, pixel_auc=0.95,
           config={"anomalies.supervise_mode": "noise", "anomalies.noise_mode": "mvtec_gt"})  # fmt: skip
    _store(tmp_path / "own", "custom", 0, "metal", 0.6, epochs=3)
    info = {
        "name": "trio",
        "benchmarks": [{"name": n, "dataset": d, "folder": f} for n, d, f in
                       (("fm", "fmnist", "fm"), ("semi", "mvtec", "mv"), ("own", "custom", "own"),
                        ("later", "cifar10", "later"))],
        "missing": [{"name": "gone", "dataset": "imagenet", "reason": "data folder /x does not exist"}],
    }  # fmt: skip
    files = build_suite_report(tmp_path, info)
    overview = pd.read_csv(files["suite_summary"]).set_index("benchmark")
    assert list(overview.index) == ["fm", "semi", "own"]
    fm, semi, own = overview.loc["fm"], overview.loc["semi"], overview.loc["own"]
    assert (fm["paper_table"], fm["auc_mean"], fm["paper_auc"]) == ("Table 6 (OE CIFAR-100)", 0.9, 0.98)
    assert (fm["epochs"], fm["seeds"], fm["paper_epochs"], fm["paper_seeds"]) == (1, 1, 400, 5)
    # real defects in training: the semi-supervised column of Table 2, by pixel AUC
    assert semi["paper_table"].startswith("Table 2, FCDD semi-supervised")
    assert (semi["pixel_auc_mean"], semi["paper_pixel_auc"]) == (0.95, 0.98)
    assert pd.isna(own["paper_table"]) and pd.isna(own["paper_auc"]) and own["epochs"] == 3
    page = files["markdown"].read_text()
    assert "| fm | fmnist | Table 6 (OE CIFAR-100) | default | 1 | 0 | 0.900 ± 0.000 | 0.98 | -0.080 |" in page
    assert "| 1 epoch(s) × 1 seed(s) (400 × 5) |" in page and "| 3 epoch(s) × 1 seed(s) |" in page
    assert "| 0.950 | 0.98 | -0.030 |" in page  # the semi-supervised pixel AUC beside Table 2's
    assert "| 1 | Trouser | 0.900 ± 0.000 | 1 | 0 | 0.98 | -0.080 |" in page  # the benchmark report's own table
    assert "[its own report](../fm/report/report.html)" in page
    assert "- gone (imagenet): data folder /x does not exist" in page and "- later (cifar10): no finished trial" in page
    assert '<a href="../mv/report/report.html">its own report</a>' in files["html"].read_text()
    assert (tmp_path / "report" / "fm" / "summary_by_class.csv").is_file()


def test_a_suites_progress_lines_name_their_benchmark(tmp_path, caplog):
    trial = TrialSpec("abc", "default", 0, 0, {"optim.epochs": 1})
    caplog.set_level(logging.INFO, logger="tune.progress_file")
    for named in (True, False):
        progress = Progress.of(tmp_path, "fmnist", [trial], named=named)
        progress.trial_finished(trial, ok=True)
    assert [r.getMessage().split(" | ")[0] for r in caplog.records] == [
        "fmnist [1/1 done, 0 failed] class 0: 1/1",
        "[1/1 done, 0 failed] class 0: 1/1",
    ]


# ------------------------------------------------------------------ end to end


def _check_run(out, runner, capsys, ran):
    printed = capsys.readouterr().out
    assert f"suite trio: 3 trial(s) ok, 0 failed, {ran} run now" in printed
    info = json.loads((out / "suite.json").read_text())
    assert [b["name"] for b in info["benchmarks"]] == ["fmnist", "mvtec", "parts"]
    for name in ("fmnist", "mvtec", "parts"):
        rows = ResultsStore(out / name).rows()
        assert [(r["status"], r["runner"], r["benchmark"]) for r in rows] == [("ok", runner, name)]
        assert (out / name / "report" / "report.html").is_file()
    page = (out / "report" / "report.md").read_text()
    assert "| 0 | T-shirt/top |" in page and "| 0.82 |" in page  # Table 6 beside Fashion-MNIST
    assert "| 1 | zipper |" in page and "Table 2, FCDD unsupervised" in page and "| 0.92 |" in page
    assert "## parts (custom)" in page and "The paper has no table for it." in page
    return info, page


@pytest.mark.slow
def test_a_suite_of_three_datasets_trains_resumes_and_reports_in_one_process(tiny_fmnist, tmp_path, capsys):
    raw = _trio(tiny_fmnist, tmp_path)
    raw["suite"].append({"name": "gone", "preset": "mvtec", "overrides": {"data.data_dir": str(tmp_path / "none")}})
    argv = ["train", "--spec", str(_write(tmp_path, raw)), "--out", str(tmp_path / "out"), "--quiet"]
    assert main([*argv, "--skip-missing"]) == 0
    info, page = _check_run(tmp_path / "out", "serial", capsys, ran=3)
    assert [m["name"] for m in info["missing"]] == ["gone"] and "- gone (mvtec): data folder" in page

    assert main([*argv, "--skip-missing"]) == 0  # the same command again: every benchmark resumes, nothing runs
    _check_run(tmp_path / "out", "serial", capsys, ran=0)
    assert main(["status", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.count("finished — 1/1 ok, 0 failed") == 3
    assert main(["report", str(tmp_path / "out")]) == 0
    assert "suite_summary: " in capsys.readouterr().out


@pytest.mark.slow
def test_a_suite_fans_out_as_one_ray_tune_run_and_resumes(ray_cluster, tiny_fmnist, tmp_path, capsys):
    raw = _trio(tiny_fmnist, tmp_path)
    raw["suite"][2]["resources"] = {"cpus_per_trial": 2}  # each trial asks for its own benchmark's resources
    out = tmp_path / "out"
    argv = ["benchmark", "--spec", str(_write(tmp_path, raw)), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    _check_run(out, "ray", capsys, ran=3)
    (experiment,) = (out / "ray").iterdir()  # one Tune run for the whole suite
    assert sorted(p.name.split("-")[0] for p in experiment.iterdir() if p.is_dir()) == ["fmnist", "mvtec", "parts"]
    assert [(r["cpus"], r["threads"]) for r in ResultsStore(out / "parts").rows()] == [(2, 2)]
    assert [(r["cpus"], r["threads"]) for r in ResultsStore(out / "fmnist").rows()] == [(1, 1)]

    assert main(argv) == 0
    _check_run(out, "ray", capsys, ran=0)
    assert len(list((out / "ray").iterdir())) == 1  # nothing to run: no second Tune run
