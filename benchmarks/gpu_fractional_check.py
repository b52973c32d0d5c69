"""Several FCDD trials sharing one GPU: peak GPU memory per trial, throughput, and the GPU's total.

On a cluster a trial may hold a fraction of a GPU (`--gpus-per-trial 0.25`: four at a time). Ray
only counts the fractions; it does not partition the GPU, so the trials' memory has to fit side by
side. This runs N trials at once on one GPU and prints one row per trial plus the totals:

- `--backend ray`: the `fcdd benchmark` path, N Ray Tune trials with `gpus_per_trial = 1/N`.
- `--backend processes`: N processes calling `fcdd.run` at once, for a GPU machine without Ray
  (physically the same sharing; Ray adds only the scheduling).

    python benchmarks/gpu_fractional_check.py --trials 4 --backend ray
    python benchmarks/gpu_fractional_check.py --trials 4 --backend processes
    python benchmarks/gpu_fractional_check.py --trials 2 --device cpu --epochs 1 --train-per-class 200   # no GPU

Without `--data-dir` it writes a synthetic Fashion-MNIST-sized set (60,000 + 10,000 images, IDX)
so it runs on a machine with no datasets; AUCs on it mean nothing, the speed and memory do.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

# Runs from a plain checkout too: the GPU machine may have torch but no installed fcdd.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fcdd.data.idx import write_idx  # noqa: E402


def write_synthetic_fmnist(root: Path, train_per_class: int, test_per_class: int, seed: int = 0) -> Path:
    """IDX files shaped like Fashion-MNIST: noise plus a class-dependent bright block."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for split, per_class in (("train", train_per_class), ("t10k", test_per_class)):
        labels = rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), per_class))
        images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
        for c in range(10):
            row, col = divmod(c, 4)
            images[labels == c, 2 + row * 8 : 10 + row * 8, 2 + col * 6 : 10 + col * 6] = 220
        write_idx(root / f"{split}-images-idx3-ubyte.gz", images, compresslevel=1)
        write_idx(root / f"{split}-labels-idx1-ubyte.gz", labels, compresslevel=1)
    return root


class GpuMemorySampler:
    """The GPU's memory in use (nvidia-smi, all processes), sampled every half second; keeps the peak."""

    def __init__(self) -> None:
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        query = ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "--id=0"]
        while not self._stop.is_set():
            try:
                used = float(subprocess.run(query, capture_output=True, text=True, timeout=5).stdout.strip())
                self.peak_mb = max(self.peak_mb or 0.0, used)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                return  # no nvidia-smi: no total
            self._stop.wait(0.5)

    def __enter__(self) -> GpuMemorySampler:
        if shutil.which("nvidia-smi"):
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


def overrides(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    """RunConfig changes shared by both backends."""
    changes: dict[str, Any] = {
        "data.data_dir": str(data_dir),
        "optim.epochs": args.epochs,
        "optim.batch_size": args.batch_size,
        "device": args.device,
        "heatmap.n_samples": 8,
    }
    if args.oe_folder:
        changes.update({"anomalies.noise_mode": "folder", "anomalies.oe_folder": str(args.oe_folder)})
    else:
        changes["anomalies.noise_mode"] = "confetti"
    return changes


def _one_process_trial(config_flat: dict[str, Any], out: str, threads: int) -> dict[str, Any]:
    from fcdd.config import RunConfig
    from fcdd.runner import run

    config = RunConfig.from_flat(config_flat).replace(threads=threads)
    return run(config, out).metrics.to_dict()


def run_processes(args: argparse.Namespace, data_dir: Path, out: Path) -> list[dict[str, Any]]:
    """N `fcdd.run` calls at once, one process each (spawned: CUDA does not survive a fork)."""
    from fcdd.presets import get_preset

    base = get_preset("fmnist").replace(**overrides(args, data_dir))
    threads = max(1, args.cpus // args.trials)
    jobs = [
        (base.replace(**{"data.normal_class": c}).to_flat(), str(out / f"class{c}"), threads)
        for c in range(args.trials)
    ]
    with mp.get_context("spawn").Pool(args.trials) as pool:
        metrics = pool.starmap(_one_process_trial, jobs)
    share = 1 / args.trials if args.device != "cpu" else 0
    return [{**m, "normal_class": c, "gpus": share} for c, m in enumerate(metrics)]


def run_ray(args: argparse.Namespace, data_dir: Path, out: Path) -> list[dict[str, Any]]:
    """N Ray Tune trials through `run_benchmark`, each with 1/N of the GPU."""
    from tune.experiment import run_benchmark
    from tune.runners.ray import RayRunner
    from tune.spec import spec_from_dict
    from tune.store import ResultsStore

    on_gpu = args.device != "cpu"
    spec = spec_from_dict(
        {
            "preset": "fmnist",
            "name": "gpu-check",
            "classes": list(range(args.trials)),
            "seeds": 1,
            "overrides": overrides(args, data_dir),
            "resources": {
                "cpus_per_trial": max(1, args.cpus // args.trials),
                "gpus_per_trial": 1 / args.trials if on_gpu else 0,
            },
        },
        n_classes=10,
    )
    run_benchmark(spec, out, RayRunner(), report=False)
    return ResultsStore(out).rows()


def print_table(rows: list[dict[str, Any]], wall: float, gpu_total_mb: float | None, args: argparse.Namespace) -> None:
    print(f"\n{args.trials} trials at once, backend {args.backend}, device {args.device}, {args.epochs} epochs")
    print("| class | gpus | peak GPU memory (MB) | images/s | train s | AUC |")
    print("|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: r["normal_class"]):
        memory = r.get("peak_gpu_memory_mb")
        print(
            f"| {r['normal_class']} | {r.get('gpus', 0):.2f} | {'-' if memory is None else f'{memory:.0f}'} "
            f"| {r['images_per_second']:.0f} | {r['train_seconds']:.1f} | {r['auc']:.3f} |"
        )
    total_ips = sum(r["images_per_second"] for r in rows)
    print(f"\nsum of trial throughputs: {total_ips:.0f} images/s; wall for all trials: {wall:.1f} s")
    if gpu_total_mb is not None:
        print(f"GPU memory in use at peak (nvidia-smi, every process incl. CUDA contexts): {gpu_total_mb:.0f} MB")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=4, help="trials sharing the GPU (each gets 1/trials of it)")
    p.add_argument("--backend", choices=("ray", "processes"), default="ray")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu, to check the script without a GPU")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--cpus", type=int, default=mp.cpu_count(), help="CPU cores to split between the trials")
    p.add_argument("--data-dir", type=Path, help="a Fashion-MNIST folder (default: synthetic, written to a temp dir)")
    p.add_argument("--train-per-class", type=int, default=6000, help="synthetic set: training images per class")
    p.add_argument("--oe-folder", type=Path, help="outlier exposure images (default: confetti noise)")
    p.add_argument("--out", type=Path, help="results folder (default: a temp dir)")
    args = p.parse_args()
    if args.device != "cpu":
        import torch

        if not torch.cuda.is_available():
            print("gpu_fractional_check: no CUDA device here; pass --device cpu to check the script", file=sys.stderr)
            return 2
    scratch = Path(tempfile.mkdtemp(prefix="fcdd-gpu-check-"))
    data_dir = args.data_dir or write_synthetic_fmnist(scratch / "fmnist", args.train_per_class, 1000)
    out = (args.out or scratch / "out").resolve()
    started = time.perf_counter()
    with GpuMemorySampler() as sampler:
        rows = (run_ray if args.backend == "ray" else run_processes)(args, data_dir, out)
    print_table(rows, time.perf_counter() - started, sampler.peak_mb, args)
    print(f"run folders: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
