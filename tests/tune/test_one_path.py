"""One experiment path: the serial and the Ray runner write the same layout, store and report, with equal results."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tune.cli import main, make_parser
from tune.experiment import run_benchmark
from tune.resolve import resolve_spec
from tune.runners.ray import RayRunner
from tune.store import ResultsStore

# Every test trains through the CLI; one also on Ray.
pytestmark = pytest.mark.slow


def _flags(tiny_fmnist, tiny_oe_folder, out, *extra):
    return ["--data-dir", str(tiny_fmnist), "--oe-folder", str(tiny_oe_folder), "--classes", "0,1", "--seeds", "1",
            "--epochs", "2", "--batch-size", "32", "--device", "cpu", "--cpus-per-trial", "1", "--name", "same",
            "--out", str(out), *extra]  # fmt: skip


def _layout(out):
    skip = ("ray", "report")  # Ray Tune's own experiment state; the report is compared by its files below
    files = {
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.parts[len(out.parts)] not in skip
    }
    return {f for f in files if not f.startswith(".")}


def test_serial_and_ray_runners_agree(ray_cluster, tiny_fmnist, tiny_oe_folder, tmp_path, capsys):
    serial_out, ray_out = tmp_path / "serial", tmp_path / "ray"
    assert main(["train", *_flags(tiny_fmnist, tiny_oe_folder, serial_out), "--quiet"]) == 0
    spec = resolve_spec(make_parser().parse_args(["benchmark", *_flags(tiny_fmnist, tiny_oe_folder, ray_out)]))
    assert run_benchmark(spec, ray_out, RayRunner())["ok"] == 2

    assert _layout(serial_out) == _layout(ray_out)
    assert {p.name for p in (serial_out / "report").iterdir()} == {p.name for p in (ray_out / "report").iterdir()}
    serial_table, ray_table = (ResultsStore(o).table().sort_values("trial_id") for o in (serial_out, ray_out))
    assert list(serial_table.columns) == list(ray_table.columns)
    assert serial_table["runner"].tolist() == ["serial"] * 2 and ray_table["runner"].tolist() == ["ray"] * 2
    # Same trial ids, same threads, so the same arithmetic: identical AUCs and losses, bit for bit.
    assert serial_table["trial_id"].tolist() == ray_table["trial_id"].tolist()
    for column in ("auc", "final_loss", "heatmap_scale", "config.threads"):
        assert serial_table[column].tolist() == ray_table[column].tolist(), column


def test_every_metric_in_metrics_json_reaches_the_store_and_the_csv(tiny_fmnist, tiny_oe_folder, tmp_path):
    out = tmp_path / "out"
    assert main(["train", *_flags(tiny_fmnist, tiny_oe_folder, out, "--classes", "0", "--validation-fraction", "0.25"),
                 "--quiet"]) == 0  # fmt: skip
    row = ResultsStore(out).rows()[0]
    csv = pd.read_csv(out / "results.csv").iloc[0]
    metrics = json.loads((out / "runs" / "default" / "normal_0" / "it_0" / "metrics.json").read_text())
    assert metrics["val_auc"] is not None and metrics["n_validation"] > 0
    for key, value in metrics.items():
        assert key in row and key in csv.index, key
        assert row[key] == (list(value) if isinstance(value, tuple) else value), key
        if isinstance(value, (int, float)) and value is not None and not isinstance(value, bool):
            assert csv[key] == pytest.approx(value), key


def test_serial_runner_records_a_failing_trial_with_the_time_of_every_attempt(tiny_fmnist, tiny_oe_folder, tmp_path):
    out = tmp_path / "out"
    code = main(["train", *_flags(tiny_fmnist, tiny_oe_folder, out, "--classes", "0", "--lr", "1e30",
                                  "--max-failures", "1"), "--quiet"])  # fmt: skip
    assert code == 1
    (row,) = ResultsStore(out).rows()
    assert row["status"] == "failed" and row["attempts"] == 2 and "training loss is nan" in row["error"]
    assert len(row["attempt_seconds"]) == 2 and all(s > 0 for s in row["attempt_seconds"])
    cost = pd.read_csv(out / "report" / "cost_by_class.csv")
    total = cost[cost["class_name"] == "total"].iloc[0]
    assert row["trial_seconds"] > 0 and total["wall_seconds"] == pytest.approx(row["trial_seconds"], rel=1e-5)
    assert "training loss is nan" in (out / "report" / "report.html").read_text()
