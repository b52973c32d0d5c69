"""Benchmarks and searches on a real (local) Ray: fan-out, retries, pre-flight, resume, PRUNED trials."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import optuna
import pandas as pd
import pytest

from fcdd.config import RunConfig
from fcdd.runner import evaluate_snapshot
from tests.helpers import fmnist_spec
from tune.experiment import run_benchmark, run_search
from tune.resources import InsufficientResourcesError
from tune.runners.ray import RayRunner
from tune.spec_file import spec_from_dict
from tune.store import ResultsStore

# Every test runs on the session's Ray or starts the CLI in a subprocess.
pytestmark = pytest.mark.slow

RAY = RayRunner()


def test_benchmark_fans_out_reports_and_skips_finished(ray_cluster, tiny_fmnist, tiny_oe_folder, tmp_path):
    spec = spec_from_dict(fmnist_spec(tiny_fmnist, tiny_oe_folder, classes=[0, 1], seeds=2, name="fan"), n_classes=10)
    out = tmp_path / "bench"
    summary = run_benchmark(spec, out, RAY)
    assert (summary["trials"], summary["ran"], summary["ok"], summary["failed"]) == (4, 4, 4, 0)
    rows = ResultsStore(out).rows()
    assert sorted((r["normal_class"], r["seed"]) for r in rows) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert all(r["epochs"] == 2 and r["runner"] == "ray" and r["attempts"] == 1 for r in rows)
    # two CPUs, one per trial: some trials ran at the same time
    spans = sorted((datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"])) for r in rows)
    assert any(a_end > b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))
    report = out / "report"
    for name in ("summary_by_class.csv", "roc_by_class.png", "roc_summary.png", "report.html", "report.md"):
        assert (report / name).is_file(), name
    page = (report / "report.html").read_text()
    assert 'src="roc_by_class.png"' in page and "base64" not in page  # figures are files beside the page
    progress = json.loads((out / "progress.json").read_text())
    assert (progress["total"], progress["finished"], progress["failed"], progress["running"]) == (4, 4, 0, [])
    assert {r["node_id"] for r in rows} == {ray_cluster.get_runtime_context().get_node_id()}

    again = run_benchmark(spec, out, RAY)
    assert (again["ran"], again["ok"]) == (0, 4)
    assert len((out / "trials.jsonl").read_text().splitlines()) == 4


def test_failing_trial_is_retried_then_reported(ray_cluster, tiny_fmnist, tiny_oe_folder, tmp_path):
    spec = spec_from_dict(
        fmnist_spec(
            tiny_fmnist,
            tiny_oe_folder,
            classes=[0],
            seeds=1,
            max_failures=1,
            settings=[{"name": "fine"}, {"name": "diverges", "overrides": {"optim.lr": 1e30}}],
        ),
        n_classes=10,
    )
    summary = run_benchmark(spec, tmp_path / "bench", RAY)
    assert (summary["ok"], summary["failed"]) == (1, 1)
    failed = [r for r in ResultsStore(tmp_path / "bench").rows() if r["status"] == "failed"][0]
    assert failed["setting"] == "diverges" and failed["attempts"] == 2
    assert "training loss is nan" in failed["error"]
    # both attempts took time, and the cost table charges it
    assert len(failed["attempt_seconds"]) == 2 and all(s > 0 for s in failed["attempt_seconds"])
    assert failed["trial_seconds"] == pytest.approx(sum(failed["attempt_seconds"]))
    cost = pd.read_csv(tmp_path / "bench" / "report" / "cost_by_class.csv")
    diverges = cost[(cost["setting"] == "diverges") & (cost["class_name"] == "total")].iloc[0]
    assert diverges["wall_seconds"] == pytest.approx(failed["trial_seconds"], rel=1e-5) and diverges["attempts"] == 2
    assert "diverges" in (tmp_path / "bench" / "report" / "report.html").read_text()


def test_gpu_trial_on_cpu_cluster_fails_before_anything_runs(ray_cluster, tiny_fmnist, tiny_oe_folder, tmp_path):
    spec = spec_from_dict(
        fmnist_spec(tiny_fmnist, tiny_oe_folder, classes=[0], resources={"gpus_per_trial": 0.5}), n_classes=10
    )
    with pytest.raises(InsufficientResourcesError, match="no GPU"):
        run_benchmark(spec, tmp_path / "bench", RAY)
    assert not (tmp_path / "bench").exists()


def test_search_records_pruned_trials_and_reruns_the_best(ray_cluster, tiny_fmnist, tiny_oe_folder, tmp_path):
    spec = spec_from_dict(
        fmnist_spec(
            tiny_fmnist,
            tiny_oe_folder,
            name="search",
            classes=[0],
            seeds=1,
            overrides={"optim.epochs": 4},
            search={
                "trials": 8,
                "scheduler": "asha",
                "validation_fraction": 0.25,
                "space": {
                    "optim.lr": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
                    "anomalies.mode": {"type": "categorical", "choices": ["noise/folder", "noise/confetti"]},
                },
            },
        ),
        n_classes=10,
    )
    summary = run_search(spec, tmp_path / "tune", RAY, max_concurrent=2)
    study = optuna.load_study(study_name="search", storage=f"sqlite:///{tmp_path / 'tune' / 'study.db'}")
    states = [t.state for t in study.trials]
    assert len(states) == 8
    assert states.count(optuna.trial.TrialState.PRUNED) >= 1
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 1
    # the search store says the same: a row per trial, pruned ones without final metrics
    rows = ResultsStore(tmp_path / "tune" / "search").rows()
    assert len(rows) == 8 and sum(r["status"] == "pruned" for r in rows) == states.count(optuna.trial.TrialState.PRUNED)
    assert all(
        r["auc"] is None and "stopped by the search scheduler" in r["error"] for r in rows if r["status"] == "pruned"
    )
    assert summary["ok"] == 1 and (tmp_path / "tune" / "best" / "report" / "report.html").is_file()
    best = json.loads((tmp_path / "tune" / "best_params.json").read_text())
    # The pick among trials tied within the validation AUC's resolution (1/36 here) follows the tie rule.
    ties = best["ties"]
    assert best["trial_number"] in ties["trial_numbers"] and ties["count"] == len(ties["trial_numbers"]) >= 1
    assert ties["tolerance"] == pytest.approx(1 / 36) and best["value"] >= study.best_value - ties["tolerance"]
    assert best["validation_anomalies"] == "auto" and study.user_attrs["validation_anomalies"] == "auto"
    # After the search: every trial's test AUC beside its validation AUC, pruned ones from their checkpoint.
    table = pd.read_csv(tmp_path / "tune" / "search" / "val_vs_test.csv").set_index("trial_id")
    assert len(table) == 8 and table["val_auc"].notna().all() and table["test_auc"].between(0, 1).all()
    by_id = {r["trial_id"]: r for r in rows}
    for trial_id, entry in table.iterrows():
        if entry["status"] == "ok":
            assert entry["test_from"] == "its run's end" and entry["test_auc"] == pytest.approx(by_id[trial_id]["auc"])
        else:
            assert entry["test_from"] == "its last checkpoint, after the search" and entry["epochs"] < 4
    # The checkpoint path reproduces a finished run's own test AUC (same config, same threads).
    finished = next(r for r in ResultsStore(tmp_path / "tune" / "search").records() if r.status == "ok")
    scores = evaluate_snapshot(RunConfig.from_flat(finished.config), finished.run_dir)
    assert finished.metrics is not None and scores.test_auc == pytest.approx(finished.metrics.auc, abs=1e-9)
    page = (tmp_path / "tune" / "best" / "report" / "report.html").read_text()
    assert "Can the search be trusted?" in page and "Spearman" in page and "Validation anomalies: auto" in page


def test_killed_driver_resumes_without_rerunning_finished_trials(tiny_fmnist, tiny_oe_folder, tmp_path):
    out = tmp_path / "bench"
    cmd = [
        sys.executable,
        "-m",
        "tune.cli",
        "benchmark",
        "--data-dir",
        str(tiny_fmnist),
        "--oe-folder",
        str(tiny_oe_folder),
        "--classes",
        "0,1,2",
        "--seeds",
        "2",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--device",
        "cpu",
        "--cpus-per-trial",
        "1",
        "--out",
        str(out),
        "--name",
        "killed",
    ]
    env = {**os.environ, "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0"}
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while len(ResultsStore(out).lines()) < 2 and time.time() < deadline and driver.poll() is None:
        time.sleep(0.5)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    before = {r["trial_id"]: r for r in ResultsStore(out).lines()}
    assert 2 <= len(before) < 6, "the driver should be killed mid-benchmark"
    mtimes = {tid: os.stat(os.path.join(r["run_dir"], "metrics.json")).st_mtime_ns for tid, r in before.items()}
    time.sleep(2)  # let Ray's reaper stop the orphaned workers

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{6 - len(before)} run now" in done.stdout
    rows = ResultsStore(out).lines()
    assert len({r["trial_id"] for r in rows if r["status"] == "ok"}) == 6
    assert len(rows) == 6  # no finished trial was written twice
    for tid, r in before.items():
        assert os.stat(os.path.join(r["run_dir"], "metrics.json")).st_mtime_ns == mtimes[tid]


def test_run_folders_on_remote_storage(ray_cluster, tiny_fmnist, tiny_oe_folder, tmp_path):
    # file:// goes through the same pyarrow filesystem layer as s3:// or gs://
    bucket = tmp_path / "bucket"
    spec = spec_from_dict(fmnist_spec(tiny_fmnist, tiny_oe_folder, classes=[0], seeds=2, name="remote"), n_classes=10)
    summary = run_benchmark(spec, tmp_path / "out", RayRunner(remote_storage=f"file://{bucket}"))
    assert summary["ok"] == 2
    for seed in (0, 1):
        assert (bucket / "runs" / "default" / "normal_0" / f"it_{seed}" / "snapshot.pt").is_file()
        assert (tmp_path / "out" / "runs" / "default" / "normal_0" / f"it_{seed}" / "scores.npz").is_file()
    assert (bucket / "report" / "report.html").is_file() and (bucket / "trials.jsonl").is_file()
    assert (bucket / "report" / "roc_by_class.png").is_file()  # the whole folder, figures beside the page
    assert 'src="roc_by_class.png"' in (tmp_path / "out" / "report" / "report.html").read_text()


def test_unusable_remote_storage_fails_before_anything(tiny_fmnist, tiny_oe_folder, tmp_path):
    spec = spec_from_dict(fmnist_spec(tiny_fmnist, tiny_oe_folder, classes=[0]), n_classes=10)
    with pytest.raises(ValueError, match="--remote-storage nosuch://x: cannot open it"):
        run_benchmark(spec, tmp_path / "out", RayRunner(remote_storage="nosuch://x"))
    assert not (tmp_path / "out").exists()
