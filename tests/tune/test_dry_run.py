"""The main job needs nothing from outside the project: a dry run without CIFAR-100 says what it uses instead."""

from __future__ import annotations

import pytest

from tune.cli import main, make_parser
from tune.resolve import resolve_spec


def test_dry_run_without_cifar100_falls_back_and_says_so(tiny_fmnist, tiny_oe_folder, caplog):
    spec = resolve_spec(make_parser().parse_args(["benchmark", "--data-dir", str(tiny_fmnist), "--dry-run"]))
    a = spec.base.anomalies
    assert (a.supervise_mode, a.noise_mode) == ("malformed_normal", "confetti")
    assert len(spec.notes) == 1 and "CIFAR-100" in spec.notes[0] and "a full run never substitutes" in spec.notes[0]
    assert "CIFAR-100" in caplog.text
    # with outlier exposure at hand nothing is substituted
    real = resolve_spec(make_parser().parse_args(["benchmark", "--data-dir", str(tiny_fmnist), "--dry-run",
                                                   "--oe-folder", str(tiny_oe_folder)]))  # fmt: skip
    assert real.base.anomalies.noise_mode == "folder" and real.notes == ()


def test_a_full_run_never_substitutes(tiny_fmnist, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [
        "train",
        "--data-dir",
        str(tiny_fmnist),
        "--classes",
        "0",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--out",
        str(out),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CIFAR-100" in err[0] and "--download" in err[0] and "--oe-folder" in err[0]
    assert not out.exists()


@pytest.mark.slow
def test_the_dry_runs_report_states_the_substitution_and_the_budget_gap(tiny_fmnist, tmp_path):
    out = tmp_path / "out"
    argv = ["train", "--data-dir", str(tiny_fmnist), "--dry-run", "--batch-size", "32", "--device", "cpu",
            "--cpus-per-trial", "1", "--quiet", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    page = (out / "report" / "report.html").read_text()
    assert "trains on confetti-malformed nominal images instead" in page
    assert "Budget: this run 1 epochs × 1 seed(s) per class; the paper 400 epochs × 5 seeds." in page
    assert "compares unlike budgets" in page
