"""The driver's live view of a benchmark: progress.json after every change, counts per class, the ETA."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from tune.outdir import PROGRESS_FILE
from tune.plan import expand
from tune.progress_file import Progress
from tune.spec_file import spec_from_dict

TRIALS = expand(spec_from_dict({"preset": "fmnist", "classes": [0, 1], "seeds": 2}, n_classes=10))


def _read(root: Path) -> dict:
    return json.loads((root / PROGRESS_FILE).read_text())


def test_written_at_once_with_the_totals_and_this_driver(tmp_path: Path) -> None:
    Progress.of(tmp_path, "b", TRIALS)
    written = _read(tmp_path)
    assert (written["benchmark"], written["totals"], written["total"]) == ("b", {"0": 2, "1": 2}, 4)
    assert (written["finished"], written["eta_seconds"], written["running"]) == (0, None, [])
    assert written["driver"]["pid"] == os.getpid()


def test_running_trials_epochs_retries_and_finishes(tmp_path: Path, caplog, monkeypatch: pytest.MonkeyPatch) -> None:
    progress = Progress.of(tmp_path, "b", TRIALS)
    first, second = TRIALS[0], TRIALS[2]
    progress.trial_started(first, attempt=1, node_id="n1")
    progress.epoch_done(first, epoch=3, attempt=1, node_id="n1")
    progress.epoch_done(second, epoch=1, attempt=2)  # reported before its start was seen: still listed
    running = {r["trial_id"]: r for r in _read(tmp_path)["running"]}
    assert (running[first.trial_id]["epoch"], running[first.trial_id]["node_id"]) == (3, "n1")
    assert running[second.trial_id]["attempt"] == 2 and running[second.trial_id]["normal_class"] == 1
    progress.attempt_failed(second)
    assert [r["trial_id"] for r in _read(tmp_path)["running"]] == [first.trial_id]
    monkeypatch.setattr(progress, "started", progress.started - 100.0)  # 100 s in
    with caplog.at_level(logging.INFO, logger="tune.progress_file"):
        progress.trial_finished(first, ok=True)
        progress.trial_finished(second, ok=False)
    written = _read(tmp_path)
    assert (written["finished"], written["failed"], written["running"]) == (2, 1, [])
    assert written["eta_seconds"] == pytest.approx(100.0, rel=0.05)  # 2 of 4 in 100 s: about 100 s left
    assert "[2/4 done, 1 failed] class 0: 1/2, class 1: 0/2" in caplog.text
