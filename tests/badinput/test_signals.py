"""Ctrl-C and SIGTERM of `train`, `benchmark` and `tune`: our one resume line within seconds, exit 130/143,
no finished-run marker written half-way, no Ray process left behind; the rerun resumes.

Each test starts the real CLI, waits for the first epoch checkpoint of a long run, then signals it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.badinput.world import ROOT, World, run_cli, train_args, tree_digest

# Every test starts the real CLI on a long run and signals it.
pytestmark = pytest.mark.slow


def _start(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "tune.cli", *argv], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=_default_sigint,
    )  # fmt: skip


def _default_sigint() -> None:
    # A suite started in the background (`… &`, nohup, some CI shells) hands its children SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler: the child must start as a
    # user's shell starts a foreground command.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(path_glob: str, root: Path, process: subprocess.Popen[str], timeout: float = 150) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list(root.glob(path_glob)):
            return
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the command ended before its first checkpoint:\n{out}\n{err}")
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"no {path_glob} under {root} after {timeout} s")


def _ray_processes() -> int:
    names = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
    return sum("raylet" in n or "default_worker.py" in n or "gcs_server" in n for n in names)


def _signal_and_collect(process: subprocess.Popen[str], sig: int) -> tuple[int, str, float]:
    sent = time.monotonic()
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    return process.returncode, out + err, time.monotonic() - sent


def _long(world: World, *extra: str) -> list[str]:
    return train_args(world, "--epochs", "60", *extra)


def _check_interrupted(code: int, expected: int, output: str, seconds: float, out: Path) -> None:
    lines = [line for line in output.splitlines() if line.startswith("fcdd: ")]
    assert code == expected, output
    assert seconds < 30, f"took {seconds:.1f} s to stop"
    assert len(lines) == 1 and "rerun the same command to resume" in lines[0], output
    assert "Traceback" not in output and "Tuner.restore" not in output, output
    assert not list(out.glob("runs/**/metrics.json")), "a run was marked finished"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["sigint", "sigterm"])
def test_train_stops_with_one_line_and_resumes(world: World, tmp_path: Path, sig: int, code: int) -> None:
    out = tmp_path / "out"
    argv = [*_long(world), "--out", str(out)]
    process = _start(argv, tmp_path)
    _wait_for("runs/*/*/*/snapshot.pt", out, process)
    returncode, output, seconds = _signal_and_collect(process, sig)
    _check_interrupted(returncode, code, output, seconds, out)
    resumed = run_cli(argv, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr and "at epoch" in resumed.stderr


@pytest.mark.parametrize(
    ("command", "sig", "code"),
    [("benchmark", signal.SIGINT, 130), ("benchmark", signal.SIGTERM, 143), ("tune", signal.SIGINT, 130)],
    ids=["benchmark-sigint", "benchmark-sigterm", "tune-sigint"],
)
def test_ray_commands_stop_with_our_line_and_leave_no_processes(
    world: World, tmp_path: Path, command: str, sig: int, code: int
) -> None:
    out = tmp_path / "out"
    extra = ("--trials", "2", "--max-concurrent", "1") if command == "tune" else ()
    before = _ray_processes()
    process = _start([command, *_long(world, *extra)[1:], "--out", str(out)], tmp_path)
    _wait_for("**/runs/**/snapshot.pt", out, process)  # a search keeps its runs in search/runs/
    returncode, output, seconds = _signal_and_collect(process, sig)
    _check_interrupted(returncode, code, output, seconds, out)
    deadline = time.monotonic() + 30
    while _ray_processes() > before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _ray_processes() <= before, "Ray processes outlived the command"


def test_interrupted_restart_leaves_the_old_results_byte_identical(world: World, tmp_path: Path) -> None:
    done = tmp_path / "done"
    shutil.copytree(world.done, done)
    before = tree_digest(done)
    process = _start([*_long(world, "--restart"), "--out", str(done)], tmp_path)
    _wait_for(".done.restart/runs/*/*/*/snapshot.pt", tmp_path, process)
    returncode, output, _ = _signal_and_collect(process, signal.SIGINT)
    assert returncode == 130, output
    assert tree_digest(done) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done"], "the staging folder was left behind"
