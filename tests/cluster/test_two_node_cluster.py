"""`fcdd benchmark` submitted with `ray job submit` to a real two-node Ray cluster, which then loses a node."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.cluster.ray_nodes import RAY, LocalCluster, new_cluster
from tune.store import ResultsStore

# Starts a two-node Ray cluster and trains.
pytestmark = pytest.mark.slow

EPOCHS = 6


@pytest.fixture
def cluster():
    cluster = new_cluster()
    try:
        cluster.start_head(cpus=1)
        cluster.start_worker("worker", cpus=1)
        yield cluster
    finally:
        cluster.stop()


def _running(out: Path) -> list[dict]:
    """The trials the driver's progress file lists as running, with their node and last epoch."""
    path = out / "progress.json"
    return json.loads(path.read_text())["running"] if path.exists() else []


def _kill_worker_mid_trial(cluster: LocalCluster, out: Path, submit: subprocess.Popen, timeout: float) -> dict:
    """Once the worker has finished a trial and is busy with another, SIGKILL it; return that trial's report."""
    worker = cluster.nodes["worker"]
    deadline = time.time() + timeout
    while time.time() < deadline and submit.poll() is None:
        done_on_worker = [r for r in ResultsStore(out).lines() if r.get("node_id") == worker.node_id]
        running_on_worker = [r for r in _running(out) if r["node_id"] == worker.node_id and r["epoch"] < EPOCHS - 1]
        if done_on_worker and running_on_worker:
            worker.kill()
            return running_on_worker[0]
        time.sleep(0.2)
    raise AssertionError("the worker never ran a trial while another was left; nothing to kill mid-benchmark")


@pytest.mark.cluster
def test_benchmark_job_uses_both_nodes_and_survives_losing_one(cluster, tiny_fmnist, tiny_oe_folder, tmp_path):
    out = tmp_path / "bench"
    entrypoint = (
        f"fcdd benchmark --data-dir {tiny_fmnist} --oe-folder {tiny_oe_folder} --classes 0,1,2 --seeds 2"
        f" --epochs {EPOCHS} --epoch-repeats 10 --batch-size 32 --device cpu --cpus-per-trial 1"
        f" --max-failures 2 --name twonode --out {out}"
    )
    submit_log = tmp_path / "submit.log"
    with submit_log.open("w") as handle:  # `ray job submit` tails the job's output until it ends
        submit = subprocess.Popen(
            [RAY, "job", "submit", f"--address={cluster.dashboard_url}", "--", *entrypoint.split()],
            env=cluster.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        try:
            killed = _kill_worker_mid_trial(cluster, out, submit, timeout=180)
            submit.wait(timeout=240)
        finally:
            if submit.poll() is None:
                submit.kill()
    log = submit_log.read_text()
    assert submit.returncode == 0, log[-3000:]
    assert "Job 'raysubmit_" in log and "succeeded" in log

    rows = ResultsStore(out).lines()
    ok = {r["trial_id"]: r for r in ResultsStore(out).rows() if r["status"] == "ok"}
    assert len(ok) == 6, "every trial has its result"
    assert len(rows) == 6, "and exactly one"
    head, worker = cluster.nodes["head"].node_id, cluster.nodes["worker"].node_id
    assert {r["node_id"] for r in rows} == {head, worker}, "trials ran on both nodes"
    lost = ok[killed["trial_id"]]  # the trial the worker was running when it died
    assert lost["attempts"] >= 2 and lost["node_id"] == head, "it was retried and finished on the remaining node"
    assert lost["epochs"] == EPOCHS
    assert (out / "report" / "report.html").is_file()
    assert (out / "report" / "summary_by_class.csv").read_text().count("\n") == 4 + 1  # header, 3 classes, overall
