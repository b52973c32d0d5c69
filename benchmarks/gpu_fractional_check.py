"""Several FCDD trials sharing one GPU: what `--gpus-per-trial auto` measures, and whether it holds.

On a cluster a trial may hold a fraction of a GPU (`--gpus-per-trial 0.25`: four at a time). Ray
only counts the fractions; it does not partition the GPU, so the trials' memory has to fit side by
side. `--gpus-per-trial auto` measures it: a short probe of the plan's largest trial on a GPU
(`fcdd.probe.probe_peak_memory`: the run's own set-up and first training steps), turned into a
fraction by `tune.resources.gpu_share` (peak × 1.3 + 0.5 GiB per trial, at most 8 per GPU).

Without `--trials` (the default) this prints the probe's table for the largest trial of two
presets (fmnist; mvtec with FCDD_CNN224_VGG_NOPT, so no weights are downloaded), then runs one
more fmnist trial than fit on a local Ray with `gpus_per_trial: auto` (the `fcdd benchmark`
path, probe included) and prints how many ran at once and the GPU's memory at peak:

    python benchmarks/gpu_fractional_check.py                 # probe table + the auto run on Ray
    python benchmarks/gpu_fractional_check.py --probe-only    # the table alone

With `--trials N` it runs N trials at once with a fixed 1/N each and prints one row per trial:

- `--backend ray`: the `fcdd benchmark` path, N Ray Tune trials with `gpus_per_trial = 1/N`.
- `--backend processes`: N processes calling `fcdd.run` at once, for a GPU machine without Ray
  (physically the same sharing; Ray adds only the scheduling).

    python benchmarks/gpu_fractional_check.py --trials 4 --backend ray
    python benchmarks/gpu_fractional_check.py --trials 4 --backend processes
    python benchmarks/gpu_fractional_check.py --trials 2 --device cpu --epochs 1 --train-per-class 200   # no GPU

On a machine without CUDA (and without `--device cpu`) it prints one line saying so and exits 0.
Without `--data-dir` it writes a synthetic Fashion-MNIST-sized set (60,000 + 10,000 images, IDX)
and a synthetic MVTec-AD category, so it runs on a machine with no datasets; AUCs on them mean
nothing, the speed and memory do. The synthetic runs use confetti noise instead of CIFAR-100
outlier exposure (whose 50,000-image pool would add about 150 MB on the GPU per trial).
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


def write_synthetic_mvtec(root: Path, train: int = 200, test: int = 40, side: int = 240, seed: int = 0) -> Path:
    """One MVTec-AD-shaped category (`bottle`): noisy RGB squares; the defects carry a bright blob and its mask."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    category = root / "bottle"
    folders = {name: category / name for name in ("train/good", "test/good", "test/broken", "ground_truth/broken")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)

    def image() -> np.ndarray:
        return rng.integers(40, 90, size=(side, side, 3), dtype=np.uint8)

    for i in range(train):
        Image.fromarray(image()).save(folders["train/good"] / f"{i:03d}.png")
    for i in range(test // 2):
        Image.fromarray(image()).save(folders["test/good"] / f"{i:03d}.png")
        broken, mask = image(), np.zeros((side, side), dtype=np.uint8)
        top, left = rng.integers(0, side - 40, size=2)
        broken[top : top + 40, left : left + 40] = 230
        mask[top : top + 40, left : left + 40] = 255
        Image.fromarray(broken).save(folders["test/broken"] / f"{i:03d}.png")
        Image.fromarray(mask).save(folders["ground_truth/broken"] / f"{i:03d}_mask.png")
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
    from tune.experiment import BenchmarkOptions, run_benchmark
    from tune.runners.ray import RayRunner
    from tune.spec_file import spec_from_dict
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
    run_benchmark(spec, out, RayRunner(), BenchmarkOptions(report=False))
    return ResultsStore(out).rows()


# The presets probed: name, overrides (data_dir is filled in). Confetti noise: no outlier-exposure files.
PROBED_PRESETS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("fmnist", {"anomalies.noise_mode": "confetti"}),
    ("mvtec", {"network.name": "FCDD_CNN224_VGG_NOPT"}),
)


def probe_table(args: argparse.Namespace, data: dict[str, Path]) -> list[dict[str, Any]]:
    """The probe of each preset's largest trial (picked as `fcdd benchmark` picks it), one row each."""
    from fcdd.probe import probe_peak_memory
    from tune.plan import expand
    from tune.resources import GIB, gpu_share, probe_target
    from tune.spec_file import spec_from_dict

    rows = []
    for preset, changes in PROBED_PRESETS:
        overrides = {**changes, "data.data_dir": str(data[preset])}
        if args.probe_batch_size is not None:
            overrides["optim.batch_size"] = args.probe_batch_size
        raw = {"preset": preset, "classes": [0], "seeds": 1, "overrides": overrides,
               "resources": {"cpus_per_trial": max(1, args.cpus // 2), "gpus_per_trial": "auto"}}  # fmt: skip
        spec = spec_from_dict(raw)
        target = probe_target(spec.resources, [(t.trial_id, t.run_config()) for t in expand(spec)])
        assert target is not None
        trial, config = target
        started = time.perf_counter()
        found = probe_peak_memory(config)
        k, share = gpu_share(found.peak_bytes, found.total_bytes)
        rows.append(
            {
                "preset": preset,
                "net": config.network.name,
                "batch": config.optim.batch_size,
                "image": "x".join(map(str, _input_side(config))),
                "peak_gib": found.peak_bytes / GIB,
                "allocated_gib": found.allocated_bytes / GIB,
                "total_gib": found.total_bytes / GIB,
                "trials_per_gpu": k,
                "fraction": share,
                "seconds": time.perf_counter() - started,
                "device": found.device_name,
            }
        )
    print(f"\nprobe of each preset's largest trial on {rows[0]['device'] if rows else '?'}")
    print("| preset | net | batch | input | peak GiB (reserved) | allocated GiB | total GiB | trials/GPU | fraction "
          "| probe s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['preset']} | {r['net']} | {r['batch']} | {r['image']} | {r['peak_gib']:.2f} | "
            f"{r['allocated_gib']:.2f} | {r['total_gib']:.1f} | {r['trials_per_gpu']} | {r['fraction']:g} | "
            f"{r['seconds']:.1f} |"
        )
    return rows


def _input_side(config: Any) -> tuple[int, int, int]:
    from fcdd.networks.build import network_input_shape

    return network_input_shape(config.network.name)


def run_auto(args: argparse.Namespace, data_dir: Path, out: Path, trials: int) -> list[dict[str, Any]]:
    """`trials` fmnist trials through `run_benchmark` with `gpus_per_trial: auto` (the probe runs as a Ray task)."""
    from tune.experiment import BenchmarkOptions, run_benchmark
    from tune.runners.ray import RayRunner
    from tune.spec_file import spec_from_dict

    spec = spec_from_dict(
        {
            "preset": "fmnist",
            "name": "gpu-auto-check",
            "classes": list(range(trials)),
            "seeds": 1,
            "overrides": {**overrides(args, data_dir), "device": "cuda"},
            "resources": {"cpus_per_trial": max(1, args.cpus // trials), "gpus_per_trial": "auto"},
        },
        n_classes=10,
    )
    run_benchmark(spec, out, RayRunner(), BenchmarkOptions(report=False))
    from tune.store import ResultsStore

    return ResultsStore(out).rows()


def max_concurrent(rows: list[dict[str, Any]]) -> int:
    """Most trials running at one instant, from the store's started_at/finished_at."""
    from datetime import datetime

    events = sorted(
        [(datetime.fromisoformat(r["started_at"]), 1) for r in rows]
        + [(datetime.fromisoformat(r["finished_at"]), -1) for r in rows]
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def print_table(rows: list[dict[str, Any]], wall: float, gpu_total_mb: float | None, title: str) -> None:
    print(f"\n{title}")
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
    p.add_argument("--trials", type=int, help="run N trials at once with 1/N of the GPU each (default: the probe)")
    p.add_argument("--probe-only", action="store_true", help="only the probe table, no Ray run")
    p.add_argument("--probe-batch-size", type=int, help="probe the presets at this batch size (default: theirs)")
    p.add_argument("--backend", choices=("ray", "processes"), default="ray")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu, to check --trials without a GPU")
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
            print("gpu_fractional_check: no CUDA device here, nothing to measure (--trials N --device cpu checks it)")
            return 0
    elif args.trials is None:
        print("gpu_fractional_check: the probe measures GPU memory; --device cpu only goes with --trials N")
        return 0
    scratch = Path(tempfile.mkdtemp(prefix="fcdd-gpu-check-"))
    data_dir = args.data_dir or write_synthetic_fmnist(scratch / "fmnist", args.train_per_class, 1000)
    out = (args.out or scratch / "out").resolve()
    if args.trials is None:
        rows = probe_table(args, {"fmnist": data_dir, "mvtec": write_synthetic_mvtec(scratch / "mvtec")})
        if args.probe_only:
            return 0
        k = rows[0]["trials_per_gpu"]
        trials = min(10, max(k, 1) + 1)  # one more than fit: it has to wait
        started = time.perf_counter()
        with GpuMemorySampler() as sampler:
            ran = run_auto(args, data_dir, out, trials)
        title = (
            f"`gpus_per_trial: auto` on Ray: {trials} fmnist trials, {args.epochs} epochs; the probe said {k} per GPU"
        )
        print_table(ran, time.perf_counter() - started, sampler.peak_mb, title)
        at_once = max_concurrent(ran)
        print(f"at most {at_once} trials ran at once (expected {min(k, trials) if k else 1}); run folders: {out}")
        return 0
    started = time.perf_counter()
    with GpuMemorySampler() as sampler:
        rows = (run_ray if args.backend == "ray" else run_processes)(args, data_dir, out)
    title = f"{args.trials} trials at once, backend {args.backend}, device {args.device}, {args.epochs} epochs"
    print_table(rows, time.perf_counter() - started, sampler.peak_mb, title)
    print(f"run folders: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
