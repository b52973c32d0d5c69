"""Per-trial overhead of the Ray path against calling the trainer directly.

Runs the same N short trials (Fashion-MNIST subset, 1 epoch) three ways and prints a table:
  direct   — `fcdd.run` in a loop in this process;
  Ray ×1   — `fcdd benchmark`'s Ray path, one trial at a time (each trial gets every CPU);
  Ray ×k   — the Ray path with one CPU per trial, k trials at a time.
Overhead per trial = (Ray ×1 wall − direct wall) / N; Ray start-up is measured separately.

    python benchmarks/orchestration_overhead.py [--trials 20] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch

from fcdd.runner import run
from tune.experiment import BenchmarkOptions, run_benchmark
from tune.plan import expand
from tune.runners.ray import RayRunner
from tune.spec_file import spec_from_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--data-dir", default=None, help="Fashion-MNIST folder (default: the Debian package)")
    args = parser.parse_args()
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    cpus = os.cpu_count() or 1
    overrides = {
        "optim.epochs": 1,
        "data.train_limit": 256,
        "data.test_limit": 500,
        "anomalies.noise_mode": "confetti",
        "heatmap.n_samples": 4,
        "device": "cpu",
    }
    if args.data_dir:
        overrides["data.data_dir"] = str(Path(args.data_dir).resolve())
    raw = {"preset": "fmnist", "overrides": overrides, "classes": [0], "seeds": args.trials}
    work = Path(tempfile.mkdtemp(prefix="fcdd-overhead-"))
    try:
        trials = expand(spec_from_dict({**raw, "resources": {"cpus_per_trial": cpus}}, n_classes=10))
        started = time.perf_counter()
        for trial in trials:
            run(trial.run_config(), trial.run_dir(work / "direct"))
        direct = time.perf_counter() - started

        import ray

        started = time.perf_counter()
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray_start = time.perf_counter() - started

        results = {}
        for name, per_trial in (("Ray ×1", cpus), (f"Ray ×{cpus}", 1)):
            spec = spec_from_dict(
                {**raw, "name": name.replace(" ", "").replace("×", "x"), "resources": {"cpus_per_trial": per_trial}},
                n_classes=10,
            )
            started = time.perf_counter()
            summary = run_benchmark(spec, work / spec.name, RayRunner(), BenchmarkOptions(report=False))
            results[name] = (time.perf_counter() - started, summary["ok"])
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = args.trials
    print(f"{n} trials of FCDD_CNN28_W, 1 epoch on 256 images, 500 test images; {cpus} CPUs, torch {torch.__version__}")
    print(f"{'path':<10} {'wall s':>8} {'s/trial':>8} {'ok':>4}")
    print(f"{'direct':<10} {direct:>8.1f} {direct / n:>8.2f} {n:>4}")
    for name, (wall, ok) in results.items():
        print(f"{name:<10} {wall:>8.1f} {wall / n:>8.2f} {ok:>4}")
    serial = results["Ray ×1"][0]
    print(f"Ray start-up (ray.init): {ray_start:.1f} s")
    print(f"overhead per trial, Ray ×1 vs direct: {(serial - direct) / n:.2f} s")


if __name__ == "__main__":
    main()
