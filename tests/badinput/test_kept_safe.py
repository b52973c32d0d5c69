"""What must keep working next to the refusals: resuming the same plan, extending a folder with more
classes, a moved `fcdd tune` folder reading its own study, a finished --restart replacing the folder,
--quiet without any progress bar, a custom folder taking the network's input size, `fcdd check`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.badinput.world import World, run_cli, train_args, tree_digest

# Every test runs the real CLI in a subprocess against the session's trained world.
pytestmark = pytest.mark.slow


def _copy(world_path: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(world_path, target)
    return target


def test_same_plan_resumes_without_touching_the_runs(world: World, tmp_path: Path) -> None:
    done = _copy(world.done, tmp_path, "done")
    runs = tree_digest(done / "runs")
    rows = (done / "trials.jsonl").read_bytes()
    result = run_cli([*train_args(world), "--out", str(done)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "already finished" in result.stderr
    assert tree_digest(done / "runs") == runs and (done / "trials.jsonl").read_bytes() == rows


def test_more_classes_extend_the_folder_and_its_summary(world: World, tmp_path: Path) -> None:
    done = _copy(world.done, tmp_path, "done")
    result = run_cli([*train_args(world), "--classes", "1", "--out", str(done)], tmp_path)
    assert result.returncode == 0, result.stderr
    plan = json.loads((done / "benchmark.json").read_text())
    assert plan["classes"] == [0, 1] and len(plan["trial_ids"]) == 2
    summary = pd.read_csv(done / "report" / "summary_by_class.csv")
    assert {"0", "1"} <= {str(c) for c in summary["normal_class"].dropna().astype(int)}


def test_finished_restart_replaces_the_folder(world: World, tmp_path: Path) -> None:
    done = _copy(world.done, tmp_path, "done")
    old_rows = (done / "trials.jsonl").read_text().splitlines()
    result = run_cli([*train_args(world, "--restart"), "--out", str(done)], tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (done / "trials.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["started_at"] != json.loads(old_rows[0])["started_at"]
    assert rows[0]["run_dir"].startswith(str(done)), "run folders recorded under the staging path"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done"]


def test_moved_search_folder_reads_its_own_study(world: World, tmp_path: Path) -> None:
    search = _copy(world.search, tmp_path, "moved")  # best_params.json still names the old location's study.db
    result = run_cli(["report", str(search)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "read from this folder's study.db" in result.stderr
    assert (search / "best" / "report" / "report.html").is_file()


def test_quiet_shows_no_progress_bar(world: World, tmp_path: Path) -> None:
    args = [a for a in train_args(world) if a != "--quiet"]
    result = run_cli([*args, "--quiet", "--out", str(tmp_path / "out")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "it/s" not in result.stderr and "%|" not in result.stderr


def test_fcdd_check_prints_each_class(world: World, tmp_path: Path) -> None:
    result = run_cli(["check", str(world.mvtec)], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("mvtec data in") and "2 class(es)" in lines[0]
    assert any("train nominal 4, test nominal 2, test anomalous 5, masks 5" in line for line in lines)
    assert any("image sizes 32x48; modes RGB" in line for line in lines)
    assert lines[-1] == "ok: 2 class(es) checked"
