"""The results folder's pre-flight and the staged --restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fcdd.artifacts import check_writable
from fcdd.config import RunConfig
from tune.outdir import (
    check_same_plan,
    differences,
    plan_identity,
    replaced_when_done,
    staging_dir,
)


def test_check_writable(tmp_path: Path) -> None:
    check_writable(tmp_path / "new" / "deeper")
    assert not (tmp_path / "new").exists() and list(tmp_path.iterdir()) == []  # the probe is gone
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        check_writable(tmp_path / "file")
    with pytest.raises(NotADirectoryError, match="file is a file, so no folder can be made"):
        check_writable(tmp_path / "file" / "sub")
    with pytest.raises(ValueError, match="is not writable"):
        check_writable(Path("/sys/fcdd-test"))


def _identity(**changes: object) -> dict:
    return plan_identity(RunConfig().replace(**changes).to_dict(), {"default": {}})


def test_plan_identity_ignores_how_trials_execute_only() -> None:
    assert _identity(threads=1, device="cpu", eval_every=3) == _identity()
    assert differences(_identity(), _identity(**{"optim.lr": 0.5})) == ["optim.lr 0.01 → 0.5"]
    assert differences(_identity(), _identity(**{"optim.epochs": 3}))[0].startswith("optim.epochs")


def _plan(folder: Path, **changes: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    plan = {"base_config": RunConfig().replace(**changes).to_dict(), "settings": {"default": {}}, "classes": [0]}
    (folder / "benchmark.json").write_text(json.dumps(plan))


def test_check_same_plan(tmp_path: Path) -> None:
    assert check_same_plan(tmp_path / "new", "benchmark.json", _identity(), "x") is None
    assert check_same_plan(tmp_path, "benchmark.json", _identity(), "x") is None  # empty
    _plan(tmp_path / "same")
    assert check_same_plan(tmp_path / "same", "benchmark.json", _identity(threads=4), "x")["classes"] == [0]
    _plan(tmp_path / "other", **{"optim.lr": 0.5})
    with pytest.raises(ValueError, match=r"holds another plan \(optim.lr 0.5 → 0.01\); pass --restart"):
        check_same_plan(tmp_path / "other", "benchmark.json", _identity(), "x")
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "a.tex").write_text("x")
    with pytest.raises(ValueError, match="holds no fcdd results"):
        check_same_plan(tmp_path / "thesis", "benchmark.json", _identity(), "x")
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "benchmark.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read"):
        check_same_plan(tmp_path / "damaged", "benchmark.json", _identity(), "x")


def test_restart_replaces_only_when_finished(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")

    def failing_restart() -> None:
        with replaced_when_done(out) as staging:
            (staging / "new.txt").write_text("half")
            raise RuntimeError("the restart failed")

    with pytest.raises(RuntimeError):
        failing_restart()
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    assert not staging_dir(out).exists()
    with replaced_when_done(out) as staging:
        (staging / "trials.jsonl").write_text(json.dumps({"run_dir": str(staging / "runs" / "x")}) + "\n")
    assert sorted(p.name for p in out.iterdir()) == ["trials.jsonl"]
    assert json.loads((out / "trials.jsonl").read_text())["run_dir"] == str(out / "runs" / "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
