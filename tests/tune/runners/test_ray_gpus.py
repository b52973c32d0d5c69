"""`--gpus-per-trial` on a real (local) Ray: auto on a CPU-only cluster, and four trials sharing a declared GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tune.cli import main
from tune.experiment import run_benchmark
from tune.resources import NoGpuToMeasureError
from tune.runners.ray import RayRunner
from tune.spec_file import spec_from_dict
from tune.store import ResultsStore

# Every test runs on Ray: the session's, or one started in a subprocess.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
NO_GPU = (
    "--gpus-per-trial auto needs a GPU to measure, and the Ray cluster has none (nodes: 2 CPU/0 GPU); "
    "pass --gpus-per-trial 0, or add GPU nodes"
)


def _raw(tiny_fmnist, tiny_oe_folder, *, classes, epochs, gpus):
    return {
        "preset": "fmnist",
        "name": "shared-gpu",
        "classes": classes,
        "seeds": 1,
        "overrides": {
            "data.data_dir": str(tiny_fmnist),
            "anomalies.oe_folder": str(tiny_oe_folder),
            "anomalies.noise_mode": "folder",
            "optim.epochs": epochs,
            "optim.batch_size": 8,
            "heatmap.n_samples": 4,
        },
        "resources": {"cpus_per_trial": 1, "gpus_per_trial": gpus},
    }


def test_auto_on_a_cpu_only_cluster_fails_before_anything(ray_cluster, tiny_fmnist, tiny_oe_folder, tmp_path, capsys):
    spec = spec_from_dict(_raw(tiny_fmnist, tiny_oe_folder, classes=[0], epochs=1, gpus="auto"), n_classes=10)
    with pytest.raises(NoGpuToMeasureError) as error:
        run_benchmark(spec, tmp_path / "bench", RayRunner())
    assert str(error.value) == NO_GPU
    assert not (tmp_path / "bench").exists()

    argv = ["benchmark", "--data-dir", str(tiny_fmnist), "--oe-folder", str(tiny_oe_folder), "--classes", "0",
            "--seeds", "1", "--epochs", "1", "--cpus-per-trial", "1", "--gpus-per-trial", "auto",
            "--out", str(tmp_path / "cli"), "--quiet"]  # fmt: skip
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("fcdd:")] == [f"fcdd: error: {NO_GPU}"]
    assert "Traceback" not in err and not (tmp_path / "cli").exists()


# A driver with its own local Ray that declares one GPU the machine does not have. Trials run on
# `device: auto`, which is the CPU here (torch sees no CUDA); Ray only counts the GPU shares.
DRIVER = """
import json, logging, sys

import ray
import torch

from fcdd.probe import MemoryProbe
from tune.experiment import BenchmarkOptions, run_benchmark
from tune.runners.ray import RayRunner
from tune.spec_file import spec_from_dict

GIB = 2**30


def fake_probe(config):
    # a trial peaking at 2.5 GiB on a 16 GiB GPU: 2.5 x 1.3 + 0.5 = 3.75 GiB each, 4 per GPU
    return MemoryProbe(int(2.5 * GIB), 2 * GIB, 16 * GIB, "declared, not real", 0)


logging.basicConfig(level=logging.INFO, format="%(message)s")
raw, out = json.loads(sys.argv[1]), sys.argv[2]
ray.init(address="local", num_cpus=6, num_gpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
spec = spec_from_dict(raw, n_classes=10)
result = {}
if not torch.cuda.is_available():  # the real probe, on the declared GPU: one clear error, nothing written
    try:
        run_benchmark(spec, out + "-real-probe", RayRunner(), BenchmarkOptions(report=False))
    except ValueError as error:
        result["real_probe_error"] = str(error)
summary = run_benchmark(spec, out, RayRunner(gpu_probe=fake_probe), BenchmarkOptions(report=False))
result.update(ok=summary["ok"], failed=summary["failed"])
print("RESULT " + json.dumps(result), flush=True)
"""


def _max_overlap(spans: list[tuple[datetime, datetime]]) -> int:
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans], key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, step in events:  # an end at the same instant as a start counts first
        running += step
        peak = max(peak, running)
    return peak


def test_four_trials_share_a_gpu_at_a_quarter_and_a_fifth_waits(tiny_fmnist, tiny_oe_folder, tmp_path):
    out = tmp_path / "bench"
    raw = _raw(tiny_fmnist, tiny_oe_folder, classes=[0, 1, 2, 3, 4], epochs=4, gpus="auto")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # never the session's Ray
    env.update(TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S="0", TQDM_DISABLE="1")
    # The driver (and its Ray workers) import this checkout, wherever the installed package points.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(script), json.dumps(raw), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert (result["ok"], result["failed"]) == (5, 0)
    if "real_probe_error" in result:
        assert result["real_probe_error"].startswith("--gpus-per-trial auto: the probe of trial ")
        assert "on a GPU node failed: ValueError: no CUDA device is visible to torch here" in result["real_probe_error"]
        assert not (tmp_path / "bench-real-probe").exists()
    assert "gpus-per-trial auto: probe of trial " in done.stderr
    assert "peaked at 2.50 GiB of 16.00 GiB → 4 trials per GPU (0.25 each)" in done.stderr

    plan = json.loads((out / "benchmark.json").read_text())
    assert plan["resources"]["gpus_per_trial"] == 0.25 and plan["resources"]["probe"]["trials_per_gpu"] == 4
    rows = ResultsStore(out).rows()
    assert len(rows) == 5 and all(r["gpus"] == 0.25 and r["status"] == "ok" for r in rows)
    spans = sorted((datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"])) for r in rows)
    # Six CPUs for five one-CPU trials: only the GPU's four quarters hold the fifth back.
    assert _max_overlap(spans) == 4, spans
    last_start = spans[-1][0]
    assert last_start >= min(end for _, end in spans[:-1]), spans
