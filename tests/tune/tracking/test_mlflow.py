"""``--mlflow URI`` against a real `mlflow server` (SQLite backend, local artifact folder, a free local port).

Every trial becomes a child run of one parent run per benchmark (or search), with its config as
params, per-epoch metrics, final metrics and figures; a resumed run logs only what is new.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port
from tune.experiment import BenchmarkOptions, run_benchmark, run_search
from tune.runners.serial import SerialRunner
from tune.spec_file import spec_from_dict
from tune.store import ResultsStore
from tune.tracking.mlflow import MLFLOW_FILE, tracking

MLFLOW = Path(sys.executable).parent / "mlflow"
EPOCHS = 2


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A throwaway tracking server; its whole process group is stopped whatever happens."""
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    log = open(root / "server.log", "wb")  # closed in finally
    server = subprocess.Popen(
        [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        cwd=root, env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no job runner processes
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                text = (root / "server.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"mlflow server did not come up (exit code {server.poll()}):\n{text}")
            time.sleep(0.5)
        yield uri
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)
        log.close()


def _client(uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _runs(client, experiment: str, deleted: bool = False) -> list:
    from mlflow.entities import ViewType

    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment {experiment}"
    view = ViewType.ALL if deleted else ViewType.ACTIVE_ONLY
    return client.search_runs([found.experiment_id], run_view_type=view, max_results=1000)


def _spec(tiny_fmnist, tiny_oe_folder, name: str, **extra):
    return spec_from_dict(
        {
            "preset": "fmnist",
            "name": name,
            "overrides": {
                "data.data_dir": str(tiny_fmnist),
                "anomalies.oe_folder": str(tiny_oe_folder),
                "anomalies.noise_mode": "folder",
                "optim.epochs": EPOCHS,
                "optim.batch_size": 32,
                "heatmap.n_samples": 4,
                "device": "cpu",
            },
            "resources": {"cpus_per_trial": 1},
            "seeds": 1,
            **extra,
        },
        n_classes=10,
    )


@pytest.mark.slow
@pytest.mark.cluster
def test_benchmark_trials_become_nested_runs_and_a_resume_logs_only_what_is_new(
    mlflow_server, tiny_fmnist, tiny_oe_folder, tmp_path
):
    # One trial that trains, one that diverges at once (a failed trial): both are logged.
    settings = [{"name": "default"}, {"name": "diverges", "overrides": {"optim.lr": 1e30}}]
    spec = _spec(tiny_fmnist, tiny_oe_folder, "mlf-bench", classes=[0], settings=settings, max_failures=0)
    out = tmp_path / "bench"
    summary = run_benchmark(
        spec, out, SerialRunner(show_progress=False), BenchmarkOptions(mlflow=mlflow_server, report=False)
    )
    assert (summary["ok"], summary["failed"]) == (1, 1)

    client = _client(mlflow_server)
    runs = _runs(client, "mlf-bench")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.info.run_name == "mlf-bench"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    records = {r.trial_id: r for r in ResultsStore(out).records()}
    by_trial = {c.data.tags["trial_id"]: c for c in children}
    assert set(by_trial) == set(records)

    ok = next(r for r in records.values() if r.status == "ok")
    run = by_trial[ok.trial_id]
    assert run.info.status == "FINISHED" and run.info.run_name == f"default/{ok.class_name}/seed0"
    assert run.data.tags["setting"] == "default" and run.data.tags["seed"] == "0"
    assert run.data.tags["run_dir"] == "runs/default/normal_0/it_0" and parent.data.tags["fcdd.out"] == str(out)
    assert run.data.params["optim.lr"] == str(ok.config["optim.lr"])
    assert run.data.params["optim.epochs"] == str(EPOCHS) and len(run.data.params) == len(ok.config)
    assert ok.metrics is not None and run.data.metrics["auc"] == pytest.approx(ok.metrics.auc)
    history = client.get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in history) == list(range(1, EPOCHS + 1))
    epochs = json.loads(Path(ok.run_dir, "history.json").read_text())
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx([e["loss"] for e in epochs])
    assert [m.step for m in client.get_metric_history(run.info.run_id, "auc")] == [EPOCHS]
    artifacts = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert {"roc.png", "heatmaps_test.png", "heatmaps_train.png", "metrics.json", "config.json"} <= artifacts
    assert run.info.start_time < run.info.end_time

    failed = next(r for r in records.values() if r.status == "failed")
    bad = by_trial[failed.trial_id]
    assert bad.info.status == "FAILED" and "loss is nan" in bad.data.tags["error"]
    assert bad.data.params["optim.lr"] == str(failed.config["optim.lr"])

    # Resume: the ok trial is skipped and not logged again; the failed one reruns and replaces its run.
    logged = json.loads((out / MLFLOW_FILE).read_text())
    run_benchmark(spec, out, SerialRunner(show_progress=False), BenchmarkOptions(mlflow=mlflow_server, report=False))
    again = _runs(client, "mlf-bench")
    assert len(again) == 3 and {r.info.run_id for r in again} >= {parent.info.run_id, run.info.run_id}
    assert client.get_run(bad.info.run_id).info.lifecycle_stage == "deleted"
    assert len(_runs(client, "mlf-bench", deleted=True)) == 4
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
    now = json.loads((out / MLFLOW_FILE).read_text())
    ((uri, state),) = now["servers"].items()
    assert uri == mlflow_server and state["parent_run_id"] == parent.info.run_id
    assert state["trials"][ok.trial_id] == next(iter(logged["servers"].values()))["trials"][ok.trial_id]


@pytest.mark.slow
@pytest.mark.cluster
def test_an_old_folder_is_logged_once_when_nothing_is_left_to_run(mlflow_server, tiny_fmnist, tiny_oe_folder, tmp_path):
    spec = _spec(tiny_fmnist, tiny_oe_folder, "mlf-late", classes=[1])
    out = tmp_path / "late"
    run_benchmark(spec, out, SerialRunner(show_progress=False), BenchmarkOptions(report=False))  # without --mlflow
    for _ in range(2):  # finished already: the trial is logged the first time only
        assert (
            run_benchmark(
                spec, out, SerialRunner(show_progress=False), BenchmarkOptions(mlflow=mlflow_server, report=False)
            )["ran"]
            == 0
        )
    runs = _runs(_client(mlflow_server), "mlf-late", deleted=True)  # a trial logged again would replace its run
    assert len(runs) == 2 and sum("mlflow.parentRunId" in r.data.tags for r in runs) == 1


class SerialSearch(SerialRunner):
    """`fcdd tune`'s runner interface without Ray: the sampled trials one after another in this process.

    The search's MLflow logging reads the search store, whoever fills it; this keeps the test to seconds.
    """

    def max_concurrent(self, resources):
        return 1

    def for_subfolder(self, name):
        return self  # run folders stay where the store is: nothing to redirect

    def search(self, spec, base, out, *, n_trials, storage_url, sampler_seed, max_concurrent):
        import optuna

        from tune.search_trials import search_trial, suggest

        sampler = optuna.samplers.TPESampler(seed=sampler_seed)
        study = optuna.load_study(study_name=spec.name, storage=storage_url, sampler=sampler)
        for _ in range(n_trials):
            trial = study.ask()
            planned = search_trial(base, suggest(trial, spec.search.space))
            self.run([planned], out / "search", spec)
            (record,) = [r for r in ResultsStore(out / "search").records() if r.trial_id == planned.trial_id]
            study.tell(trial, record.metrics.val_auc)


@pytest.mark.slow
@pytest.mark.cluster
def test_a_search_nests_the_best_settings_reruns_under_its_run(mlflow_server, tiny_fmnist, tiny_oe_folder, tmp_path):
    search = {"trials": 2, "scheduler": "none", "validation_fraction": 0.25,
              "space": {"optim.lr": {"type": "loguniform", "low": 1e-3, "high": 1e-2}}}  # fmt: skip
    spec = _spec(tiny_fmnist, tiny_oe_folder, "mlf-search", classes=[0], search=search)
    run_search(spec, tmp_path / "tune", SerialSearch(show_progress=False), mlflow=mlflow_server)
    runs = _runs(_client(mlflow_server), "mlf-search")
    by_id = {r.info.run_id: r for r in runs}
    tops = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert [r.info.run_name for r in tops] == ["fcdd tune mlf-search: search"]
    search_run = tops[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == search_run.info.run_id]
    best = [r for r in children if "trial_id" not in r.data.tags]
    trials = [r for r in children if "trial_id" in r.data.tags]
    assert len(trials) == 2 and len(best) == 1 and len(runs) == 5
    assert all(r.data.tags["setting"].startswith("search/") and "val_auc" in r.data.metrics for r in trials)
    (rerun,) = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == best[0].info.run_id]
    assert rerun.data.tags["setting"] == "best" and by_id[best[0].info.run_id].info.status == "FINISHED"


def test_a_tracking_server_that_goes_away_is_only_a_warning(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    caplog.set_level(logging.WARNING, logger="tune.tracking.mlflow")
    started = time.monotonic()
    with tracking(f"http://127.0.0.1:{free_port()}", tmp_path, experiment="x", run_name="x", interval=0.05):
        time.sleep(0.3)  # several syncs fail meanwhile
    assert time.monotonic() - started < 20
    warnings = [r for r in caplog.records if "trying again at the next sync" in r.getMessage()]
    assert len(warnings) == 1  # once per streak, not once per sync
    assert not (tmp_path / MLFLOW_FILE).exists()
