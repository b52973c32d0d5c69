"""--keep-snapshots: which snapshot each class keeps, and that no unfinished trial ever loses its checkpoint."""

from __future__ import annotations

import logging
import math

import pytest

from tune.plan import TrialSpec
from tune.snapshots import SNAPSHOT_FILE, folder_bytes, representative, snapshots_to_remove
from tune.store import ResultsStore


def test_the_representative_is_the_seed_closest_to_the_median():
    assert representative({0: 0.5, 1: 1.0, 2: 0.75}) == 2  # median 0.75
    # Four seeds: median 0.625, seeds 0 (0.5) and 1 (0.75) equally close: the lower seed.
    assert representative({3: 0.25, 1: 0.75, 0: 0.5, 2: 1.0}) == 0
    # Only seeds 1 and 2 still have a snapshot: 1 (0.75) is closer to the median of all four than 2 (1.0).
    assert representative({3: 0.25, 1: 0.75, 0: 0.5, 2: 1.0}, among=[2, 1]) == 1
    assert representative({0: math.nan, 1: 0.5, 2: 0.25}, among=[0, 2]) == 2  # no finite AUC is never closer
    assert representative({4: math.nan, 2: math.nan}) == 2


def _trials(classes=(0, 1), seeds=(0, 1, 2)) -> list[TrialSpec]:
    return [TrialSpec(f"t{c}{s}", "default", c, s, {}) for c in classes for s in seeds]


def _rows(aucs: dict[str, float | None]) -> dict[str, dict]:
    return {tid: {"status": "ok" if auc is not None else "failed", "auc": auc} for tid, auc in aucs.items()}


def test_best_removes_a_class_only_once_every_seed_finished_and_keeps_its_median_seed():
    trials = _trials()
    # class 0: all done, median seed 1; class 1: seed 2 failed (its resume needs its checkpoint).
    rows = _rows({"t00": 0.5, "t01": 0.75, "t02": 1.0, "t10": 0.5, "t11": 0.75, "t12": None})
    removed = snapshots_to_remove(trials, rows, "best", lambda t: True)
    assert [t.trial_id for t in removed] == ["t00", "t02"]
    # none: every finished, recorded trial whose snapshot is there; never the failed one.
    removed = snapshots_to_remove(trials, rows, "none", lambda t: t.trial_id != "t01")
    assert [t.trial_id for t in removed] == ["t00", "t02", "t10", "t11"]
    assert snapshots_to_remove(trials, rows, "all", lambda t: True) == []
    # A trial with no record yet (running, interrupted) is unfinished too.
    del rows["t00"]
    assert snapshots_to_remove(trials, rows, "best", lambda t: True) == []
    with pytest.raises(ValueError, match="one of all, best, none"):
        snapshots_to_remove(trials, rows, "some", lambda t: True)


def test_folder_bytes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_bytes(b"12345")
    (tmp_path / "y").write_bytes(b"123")
    assert folder_bytes(tmp_path) == 8 and folder_bytes(tmp_path / "nope") is None


def _flags(tiny_fmnist, tiny_oe_folder, out, keep):
    return ["train", "--data-dir", str(tiny_fmnist), "--oe-folder", str(tiny_oe_folder), "--classes", "0,1",
            "--seeds", "2", "--epochs", "2", "--batch-size", "16", "--train-limit", "16", "--test-limit", "32",
            "--device", "cpu", "--cpus-per-trial", "1", "--max-failures", "0", "--name", "keep", "--out", str(out),
            "--keep-snapshots", keep, "--quiet"]  # fmt: skip


def _failing_after_first_epoch(real_run, target):
    """``fcdd.runner.run`` whose trial ``target`` (class, seed) fails once its first epoch's checkpoint is written."""

    def run(config, out_dir, *, on_epoch_end=None, **kwargs):
        if (config.data.normal_class, config.seed) != target:
            return real_run(config, out_dir, on_epoch_end=on_epoch_end, **kwargs)

        def fail(report):
            on_epoch_end(report)
            raise RuntimeError("interrupted after epoch 1")

        return real_run(config, out_dir, on_epoch_end=fail, **kwargs)

    return run


@pytest.mark.slow
@pytest.mark.parametrize("keep", ["best", "none"])
def test_an_unfinished_trial_keeps_its_checkpoint_and_the_resume_completes(
    keep, tiny_fmnist, tiny_oe_folder, tmp_path, monkeypatch, caplog
):
    import tune.runners.serial as serial
    from tune.cli import main

    out = tmp_path / "out"
    real_run = serial.run
    # Class 0 seed 0 finishes first; seed 1, the second trial, fails after its first epoch.
    monkeypatch.setattr(serial, "run", _failing_after_first_epoch(real_run, (0, 1)))
    assert main(_flags(tiny_fmnist, tiny_oe_folder, out, keep)) == 1
    runs = out / "runs" / "default"
    unfinished = runs / "normal_0" / "it_1"
    assert (unfinished / SNAPSHOT_FILE).is_file() and not (unfinished / "metrics.json").exists()
    # best: class 0 is not complete, so it keeps both; class 1 keeps one. none: only the unfinished one stays.
    present = {(c, s): (runs / f"normal_{c}" / f"it_{s}" / SNAPSHOT_FILE).is_file() for c in (0, 1) for s in (0, 1)}
    assert present[(0, 0)] == (keep == "best") and present[(1, 0)] + present[(1, 1)] == (1 if keep == "best" else 0)

    monkeypatch.setattr(serial, "run", real_run)
    with caplog.at_level(logging.INFO):
        assert main(_flags(tiny_fmnist, tiny_oe_folder, out, keep)) == 0
    assert f"resuming {unfinished} at epoch 1" in caplog.text  # it continued from the checkpoint it kept
    rows = {(r["normal_class"], r["seed"]): r for r in ResultsStore(out).rows()}
    assert all(r["status"] == "ok" for r in rows.values()) and len(rows) == 4
    for c in (0, 1):
        kept = [s for s in (0, 1) if (runs / f"normal_{c}" / f"it_{s}" / SNAPSHOT_FILE).is_file()]
        expected = [representative({s: rows[(c, s)]["auc"] for s in (0, 1)})] if keep == "best" else []
        assert kept == expected, c
    for (c, s), row in rows.items():  # the store says what is on disk
        run_dir = runs / f"normal_{c}" / f"it_{s}"
        assert row["snapshot_kept"] == (run_dir / SNAPSHOT_FILE).is_file()
        assert row["run_bytes"] == folder_bytes(run_dir)
