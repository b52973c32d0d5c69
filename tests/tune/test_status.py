"""`fcdd status` on finished, running and crashed folders: real runs, and hand-written folders for the rest."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.helpers import record
from tune.cli import main
from tune.status import STALE_SECONDS, format_status, read_status
from tune.store import ResultsStore

ROOT = Path(__file__).resolve().parents[2]
GONE_PID = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # above the kernel's limit: no process has it


def _flags(tiny_fmnist: Path, tiny_oe_folder: Path, out: Path, epochs: int, classes: str = "0,1", seeds: int = 2):
    return ["train", "--data-dir", str(tiny_fmnist), "--oe-folder", str(tiny_oe_folder), "--classes", classes,
            "--seeds", str(seeds), "--epochs", str(epochs), "--batch-size", "16", "--device", "cpu",
            "--cpus-per-trial", "1", "--name", "watched", "--out", str(out), "--quiet"]  # fmt: skip


@pytest.mark.slow
def test_finished_run_extended_by_a_second_plan(tiny_fmnist, tiny_oe_folder, tmp_path, capsys) -> None:
    out = tmp_path / "done"
    assert main(_flags(tiny_fmnist, tiny_oe_folder, out, 1, classes="0", seeds=2)) == 0
    assert main(_flags(tiny_fmnist, tiny_oe_folder, out, 1, classes="1", seeds=1)) == 0  # extends the folder
    status = read_status(out)
    assert status.state == "finished" and (status.total, status.done, status.failed) == (3, 3, 0)
    # Per class what was planned (2 seeds of class 0, 1 of class 1), not classes x seeds of the union.
    assert [(c.normal_class, c.planned, c.ok, c.running) for c in status.classes] == [(0, 2, 2, 0), (1, 1, 1, 0)]
    assert [c.class_name for c in status.classes] == ["T-shirt/top", "Trouser"]
    capsys.readouterr()
    assert main(["status", str(out), "--watch", "1"]) == 0  # not running: --watch returns at once
    printed = capsys.readouterr().out
    assert "watched, finished — 3/3 ok, 0 failed" in printed and "running trial" not in printed


@pytest.mark.slow
def test_running_then_crashed_run(tiny_fmnist, tiny_oe_folder, tmp_path) -> None:
    out = tmp_path / "live"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1"}
    driver = subprocess.Popen(
        [sys.executable, "-m", "tune.cli", *_flags(tiny_fmnist, tiny_oe_folder, out, 400)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline:
            status = read_status(out)
            if status.state == "running" and status.running and status.running[0].epoch >= 2:
                break
            time.sleep(0.3)
        assert status is not None and status.state == "running", status
        trial = status.running[0]
        assert (trial.normal_class, trial.seed, trial.attempt, trial.epochs) == (0, 0, 1, 400)
        assert trial.node == "local" and trial.elapsed_seconds is not None and trial.elapsed_seconds >= 0
        assert [(c.normal_class, c.planned, c.running) for c in status.classes] == [(0, 2, 1), (1, 2, 0)]
        text = format_status(status)
        assert "watched, running — 0/4 ok, 0 failed, 1 running" in text
        assert re.search(rf"{trial.trial_id} +default +0 +0 +local +{trial.epoch}/400 +1 ", text), text
        assert f"pid {driver.pid} on this host" in text
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # a crash: no handler runs, progress.json still says "running"
        driver.wait(timeout=30)
    crashed = read_status(out)
    assert crashed.state == "stopped" and crashed.running == []
    assert [(c.planned, c.ok, c.running, c.failed) for c in crashed.classes] == [(2, 0, 0, 0)] * 2
    assert "rerun the same command to resume" in format_status(crashed)


def _progress(folder: Path, *, updated: datetime, host: str, pid: int, running: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "progress.json").write_text(json.dumps({
        "benchmark": "b", "updated_at": updated.isoformat(), "total": 3, "finished": 1, "failed": 0,
        "elapsed_seconds": 60.0, "eta_seconds": 300.0, "running": running, "driver": {"pid": pid, "host": host},
        "totals": {"0": 3},
    }))  # fmt: skip


def test_driver_on_another_host_counts_while_progress_is_fresh(tmp_path) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    started = (now - timedelta(seconds=90)).isoformat()
    entry = {"trial_id": "t1", "setting": "default", "normal_class": 0, "seed": 1, "node_id": "a1b2",
             "epoch": 3, "epochs": 10, "attempt": 2, "started_at": started}  # fmt: skip
    _progress(tmp_path, updated=now - timedelta(seconds=60), host="head-node", pid=1, running=[entry])
    ResultsStore(tmp_path).append(record("t0", normal_class=0, seed=0, setting="default"))
    fresh = read_status(tmp_path, now=now)
    assert fresh.state == "running" and fresh.eta_seconds == pytest.approx(240.0)
    assert fresh.running[0].node == "a1b2" and fresh.running[0].elapsed_seconds == pytest.approx(90.0)
    assert "3/10" in format_status(fresh) and "pid 1 on head-node" in format_status(fresh)
    stale = read_status(tmp_path, now=now + timedelta(seconds=STALE_SECONDS))
    assert stale.state == "stopped" and stale.running == [] and stale.eta_seconds is None


def test_a_retried_trial_counts_as_running_not_failed(tmp_path) -> None:
    entry = {"trial_id": "t1", "setting": "default", "normal_class": 0, "seed": 1, "epoch": 1, "attempt": 1,
             "started_at": datetime.now(UTC).isoformat()}  # fmt: skip
    _progress(tmp_path, updated=datetime.now(UTC), host=socket.gethostname(), pid=os.getpid(), running=[entry])
    ResultsStore(tmp_path).append(record("t1", "failed", normal_class=0, seed=1, setting="default"))
    status = read_status(tmp_path)
    assert status.state == "running" and status.failed == 0
    assert [(c.planned, c.running, c.failed) for c in status.classes] == [(3, 1, 0)]


def test_tune_folder_shows_search_then_best(tmp_path, capsys) -> None:
    (tmp_path / "search.json").write_text("{}")
    search, best = tmp_path / "search", tmp_path / "best"
    _progress(search, updated=datetime.now(UTC), host=socket.gethostname(), pid=GONE_PID, running=[])
    for i in range(3):
        ResultsStore(search).append(record(f"s{i}", "pruned" if i else "ok", normal_class=0, seed=0, setting=f"t{i}"))
    status = read_status(tmp_path)
    assert status.state == "stopped" and [p.state for p in status.parts] == ["finished"]
    assert [(c.ok, c.failed) for c in status.parts[0].classes] == [(3, 0)]  # stopped early is not failed
    # The driver alive between the search and its reruns (it scores the search trials): running.
    _progress(search, updated=datetime.now(UTC), host=socket.gethostname(), pid=os.getpid(), running=[])
    assert read_status(tmp_path).state == "running"
    _progress(search, updated=datetime.now(UTC), host=socket.gethostname(), pid=GONE_PID, running=[])
    best.mkdir()
    (best / "benchmark.json").write_text(json.dumps({"name": "best", "trials": {
        "b0": {"setting": "best", "normal_class": 0, "seed": 0}}}))  # fmt: skip
    ResultsStore(best).append(record("b0", normal_class=0, seed=0, setting="best"))
    assert read_status(tmp_path).state == "finished"
    assert main(["status", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "search (validation split): b, finished — 3/3 ok (2 stopped early), 0 failed" in printed
    assert "best setting (test split): best, finished — 1/1 ok" in printed


def test_not_a_results_folder_is_one_line(tmp_path, capsys) -> None:
    assert main(["status", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"fcdd: error: {tmp_path} holds no fcdd results; pass the --out folder of `fcdd train`, `benchmark` or `tune`"
    )
