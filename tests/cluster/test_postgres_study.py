"""`fcdd tune` keeps its Optuna study in a real PostgreSQL server; other processes read and resume it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cluster.postgres_server import postgres_bin, postgres_server

# Starts Ray and a PostgreSQL server, and trains.
pytestmark = pytest.mark.slow

READ_STUDY = """
import json, sys
import optuna
study = optuna.load_study(study_name=sys.argv[2], storage=sys.argv[1])
print(json.dumps([
    {"number": t.number, "state": t.state.name, "value": t.value, "params": t.params} for t in study.trials
]))
"""


@pytest.fixture(scope="module")
def postgres_url():
    if postgres_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; .ci/run must `apt-get install postgresql`")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    with postgres_server() as url:
        yield url


def _read_study(url: str, name: str) -> list[dict]:
    done = subprocess.run(
        [sys.executable, "-c", READ_STUDY, url, name], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.cluster
def test_study_in_postgres_is_read_and_resumed_by_other_processes(
    ray_cluster, postgres_url, tiny_fmnist, tiny_oe_folder, tmp_path
):
    out = tmp_path / "tune"

    def tune(trials: int) -> str:
        # Each `fcdd tune` is its own driver process joining the running Ray, as several drivers on a cluster would.
        command = [
            sys.executable, "-m", "tune.cli", "tune",
            "--address", ray_cluster.get_runtime_context().gcs_address,
            "--data-dir", str(tiny_fmnist), "--oe-folder", str(tiny_oe_folder), "--noise-mode", "folder",
            "--classes", "0", "--seeds", "1", "--epochs", "2", "--batch-size", "32", "--device", "cpu",
            "--cpus-per-trial", "1", "--validation-fraction", "0.25", "--early-stopping", "none",
            "--trials", str(trials), "--storage", postgres_url, "--name", "pgstudy", "--out", str(out),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout + done.stderr

    tune(3)
    first = _read_study(postgres_url, "pgstudy")
    assert [t["state"] for t in first] == ["COMPLETE"] * 3
    best = json.loads((out / "best_params.json").read_text())
    assert best["value"] == pytest.approx(max(t["value"] for t in first))
    assert not (out / "study.db").exists(), "the study lives in PostgreSQL, not in SQLite beside the results"

    log = tune(5)
    assert "3 trials finished, 2 to run" in log
    second = _read_study(postgres_url, "pgstudy")
    assert [t["state"] for t in second] == ["COMPLETE"] * 5
    assert second[:3] == first, "the first three trials were kept, not rerun"
    assert len({json.dumps(t["params"], sort_keys=True) for t in second}) == 5

    # `fcdd report` finds the study again through best_params.json, in PostgreSQL
    (out / "best" / "report" / "search_trials.csv").unlink()
    report = subprocess.run(
        [sys.executable, "-m", "tune.cli", "report", str(out)], capture_output=True, text=True, timeout=120
    )
    assert report.returncode == 0, report.stderr[-2000:]
    assert len((out / "best" / "report" / "search_trials.csv").read_text().splitlines()) == 1 + 5
