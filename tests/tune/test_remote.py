"""Run folders on storage that is not a mounted folder, through pyarrow, on a local file:// URI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tune.remote import check_storage, scratch_dir


def _run_folder(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "metrics.json").write_text('{"auc": 0.9}')
    (root / "sub" / "snapshot.pt").write_bytes(b"\x00weights")
    return root


def test_push_then_pull_round_trips_a_run_folder(tmp_path: Path) -> None:
    remote = check_storage(f"file://{tmp_path / 'bucket'}")
    assert (tmp_path / "bucket").is_dir()  # created up front: a bad URI fails before anything runs
    assert not remote.exists("runs/a") and remote.pull("runs/a", tmp_path / "nothing") is False
    assert not (tmp_path / "nothing").exists()
    remote.push(_run_folder(tmp_path / "local"), "runs/a")
    assert remote.exists("runs/a")
    assert remote.pull("runs/a", tmp_path / "back") is True
    assert (tmp_path / "back" / "metrics.json").read_text() == '{"auc": 0.9}'
    assert (tmp_path / "back" / "sub" / "snapshot.pt").read_bytes() == b"\x00weights"


def test_push_results_copies_the_drivers_tables_and_report_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "report").mkdir(parents=True)
    for name in ("trials.jsonl", "results.csv", "benchmark.json", "scratch.txt"):
        (out / name).write_text(name)
    (out / "report" / "report.html").write_text("<html>")
    check_storage(f"file://{tmp_path / 'bucket'}").push_results(out)  # the driver opened it before the run
    copied = sorted(p.relative_to(tmp_path / "bucket").as_posix() for p in (tmp_path / "bucket").rglob("*"))
    assert copied == ["benchmark.json", "report", "report/report.html", "results.csv", "trials.jsonl"]


def test_a_bad_uri_is_one_clear_error() -> None:
    with pytest.raises(
        ValueError, match=r"--remote-storage nope://x: cannot open it .*pass an s3://, gs:// or file://"
    ):
        check_storage("nope://x")


def test_each_trial_gets_its_own_scratch_folder() -> None:
    assert scratch_dir("abc") != scratch_dir("abd") and scratch_dir("abc").parts[-2:] == ("fcdd-trials", "abc")
