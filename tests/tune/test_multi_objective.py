"""A two-objective search on a real (local) Ray: the Pareto front, the pick, its rerun, the report, and
the heatmap grids attached to the study for optuna-dashboard, which is started for real and read over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pandas as pd
import pytest

from tests.helpers import fmnist_spec, free_port
from tune.experiment import run_search
from tune.runners.ray import RayRunner
from tune.search_goals import pick_point
from tune.search_trials import overrides_from_params, search_base_config, search_trial
from tune.spec_file import spec_from_dict

# A search on the session's Ray, and a real optuna-dashboard process.
pytestmark = pytest.mark.slow

TRIALS = 6


@pytest.fixture(scope="module")
def two_objective_search(ray_cluster, tiny_fmnist, tiny_oe_folder, tmp_path_factory):
    spec = spec_from_dict(
        fmnist_spec(
            tiny_fmnist,
            tiny_oe_folder,
            name="pareto",
            classes=[0],
            seeds=1,
            overrides={"optim.epochs": 2},
            search={
                "trials": TRIALS,
                "optimize": "val_auc,gpu_seconds",
                "pick": "within:1.5",
                "validation_fraction": 0.25,
                "space": {
                    "optim.lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
                    "optim.batch_size": {"type": "categorical", "choices": [8, 64]},  # what makes a trial cheap
                },
            },
        ),
        n_classes=10,
    )
    out = tmp_path_factory.mktemp("pareto") / "tune"
    summary = run_search(spec, out, RayRunner(), max_concurrent=2)
    return spec, out, summary


def test_two_objectives_give_a_front_and_rerun_the_picked_point(two_objective_search):
    spec, out, summary = two_objective_search
    study = optuna.load_study(study_name="pareto", storage=f"sqlite:///{out / 'study.db'}")
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(study.trials) == TRIALS and len(complete) == TRIALS  # no early stopping with two objectives
    # gpu_seconds is the trial's training time (CPU-only trial: × 1), as its run measured it
    rows = {json.loads(line)["trial_id"]: json.loads(line) for line in (out / "search" / "trials.jsonl").open()}
    for trial in complete:
        row = rows[search_trial(search_base_config(spec), trial.params).trial_id]
        assert trial.values == pytest.approx([row["val_auc"], row["train_seconds"]])
    front = {t.number: t.values for t in study.best_trials}
    picked = pick_point(front, ("max", "min"), "within:1.5")
    best = json.loads((out / "best_params.json").read_text())
    assert best["trial_number"] == picked and best["pareto_front"] == sorted(front) and best["pick"] == "within:1.5"
    assert best["objectives"] == ["val_auc", "gpu_seconds"] and best["values"] == pytest.approx(front[picked])
    table = pd.read_csv(out / "search" / "pareto.csv")
    assert len(table) == TRIALS and sorted(table[table["on_front"]]["number"]) == sorted(front)
    assert table[table["picked"]]["number"].tolist() == [picked]
    # the reruns on the test split are the picked point's setting
    plan = json.loads((out / "best" / "benchmark.json").read_text())
    assert plan["settings"]["best"] == overrides_from_params(study.trials[picked].params)
    assert summary["ok"] == 1 and summary["best_values"] == pytest.approx(front[picked])
    report = out / "best" / "report"
    assert (report / "pareto.png").stat().st_size > 5000
    page = (report / "report.html").read_text()
    assert "Pareto front" in page and "--pick within:1.5" in page and f"trial #{picked}" in page


def test_a_study_of_other_objectives_is_refused(two_objective_search, tiny_fmnist, tiny_oe_folder):
    spec, out, _ = two_objective_search
    single = spec_from_dict(
        fmnist_spec(
            tiny_fmnist, tiny_oe_folder, name="pareto", classes=[0], search={"storage": f"sqlite:///{out / 'study.db'}"}
        ),
        n_classes=10,
    )
    with pytest.raises(ValueError, match="optimises val_auc,gpu_seconds, not val_auc"):
        run_search(single, out.parent / "other", RayRunner())
    assert not (out.parent / "other" / "search").exists()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_optuna_dashboard_shows_each_trials_heatmaps(two_objective_search):
    _, out, _ = two_objective_search
    port = free_port()
    dashboard = Path(sys.executable).parent / "optuna-dashboard"
    command = [str(dashboard), f"sqlite:///{out / 'study.db'}", "--artifact-dir", str(out / "artifacts"),
               "--host", "127.0.0.1", "--port", str(port), "--quiet"]  # fmt: skip
    log = out.parent / "dashboard.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                studies = json.loads(_get(f"{base}/api/studies"))["study_summaries"]
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"optuna-dashboard did not start: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        study = next(s for s in studies if s["study_name"] == "pareto")
        detail = json.loads(_get(f"{base}/api/studies/{study['study_id']}"))
        trials = [t for t in detail["trials"] if t["state"] == "Complete"]
        assert len(trials) == TRIALS
        for trial in trials:  # every finished trial carries its heatmap grid
            (artifact,) = trial["artifacts"]
            assert artifact["filename"] == "heatmaps_test.png" and artifact["mimetype"] == "image/png"
        trial, artifact = trials[0], trials[0]["artifacts"][0]
        picture = _get(f"{base}/artifacts/{study['study_id']}/{trial['trial_id']}/{artifact['artifact_id']}")
        assert picture.startswith(b"\x89PNG") and picture == (out / "artifacts" / artifact["artifact_id"]).read_bytes()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def test_another_pick_reuses_the_study_and_reruns_only_the_new_point(two_objective_search):
    import dataclasses

    spec, out, _ = two_objective_search
    again = dataclasses.replace(spec, search=dataclasses.replace(spec.search, pick="best"))
    run_search(again, out, RayRunner(), max_concurrent=2)
    study = optuna.load_study(study_name="pareto", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == TRIALS  # no new search trial
    front = {t.number: t.values for t in study.best_trials}
    best = json.loads((out / "best_params.json").read_text())
    assert best["pick"] == "best" and best["trial_number"] == pick_point(front, ("max", "min"), "best")
    plan = json.loads((out / "best" / "benchmark.json").read_text())
    assert plan["settings"]["best"] == overrides_from_params(study.trials[best["trial_number"]].params)
